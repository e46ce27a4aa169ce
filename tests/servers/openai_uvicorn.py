"""An OpenAI-compatible streaming server on uvicorn + FastAPI, the HTTP stack
of vLLM, SGLang and trtllm-serve, shaped like vLLM's /v1/completions stream
(`data: {json}` events, usage on a last chunk when asked, `data: [DONE]`).

Usage: python openai_uvicorn.py TTFT_MS ITL_MS KEEP_ALIVE_S h11|httptools
Binds 127.0.0.1 on a port of the kernel's choosing and prints
`listening on http://127.0.0.1:PORT` on stdout. GET /stats counts the
requests, the tokens sent and the client ports they came from (one per
connection).
"""

import asyncio
import json
import socket
import sys

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

TTFT = float(sys.argv[1]) / 1000
ITL = float(sys.argv[2]) / 1000
KEEP_ALIVE = int(sys.argv[3])
PARSER = sys.argv[4]

app = FastAPI()
stats = {"requests": 0, "tokens": 0, "ports": set()}


@app.get("/health")
async def health():
    return {}


@app.get("/v1/models")
async def models(request: Request):
    stats["ports"].add(request.client.port)
    return {"object": "list", "data": [{"id": "m", "object": "model"}]}


@app.get("/stats")
async def get_stats():
    return {
        "requests": stats["requests"],
        "tokens": stats["tokens"],
        "ports": len(stats["ports"]),
    }


@app.post("/v1/completions")
async def completions(request: Request):
    body = await request.json()
    stats["requests"] += 1
    stats["ports"].add(request.client.port)
    n = int(body.get("max_tokens", 16))
    prompt = body.get("prompt")
    plen = len(prompt) if isinstance(prompt, list) else len(str(prompt).split())
    usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(choices, use=None):
        c = {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": "m", "choices": choices}
        if usage:
            c["usage"] = use
        return f"data: {json.dumps(c)}\n\n"

    async def events():
        await asyncio.sleep(TTFT)
        for i in range(n):
            if i:
                await asyncio.sleep(ITL)
            stats["tokens"] += 1
            done = "length" if i == n - 1 else None
            yield chunk([{"index": 0, "text": f" t{i}", "logprobs": None, "finish_reason": done}])
        if usage:
            yield chunk([], {"prompt_tokens": plen, "completion_tokens": n, "total_tokens": plen + n})
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
config = uvicorn.Config(app, log_level="warning", timeout_keep_alive=KEEP_ALIVE, http=PARSER)
uvicorn.Server(config).run(sockets=[sock])
