"""A mock of the few GitHub API routes the `/sweep` workflow uses, for
scripts/act-sweep.sh: a user's permission, a pull request, posting a
comment (each recorded as a JSON line in LOG), and for the comparison with
main's latest sweep: the repository, the successful runs of run-sweep.yml
(one, id 4242) and its bmk_* artifacts, served from BASELINE_ARTIFACTS (the
artifact folder of an earlier act run: NAME/NAME.zip).

Usage: act_mock_api.py PORT LOG REPO PR BASE_SHA HEAD_SHA [BASELINE_ARTIFACTS]"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, log, repo, pr, base, head = sys.argv[1:7]
ROLES = {"alice": "write", "bob": "read"}
ZIPS = {}
if len(sys.argv) > 7:
    names = sorted(n for n in os.listdir(sys.argv[7]) if n.startswith("bmk_"))
    ZIPS = {i + 1: (n, os.path.join(sys.argv[7], n, f"{n}.zip")) for i, n in enumerate(names)}


class Api(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, body=None):
        with open(log, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path, "body": body}) + "\n")

    def do_GET(self):
        self.record()
        prefix = f"/repos/{repo}"
        path = self.path.split("?")[0]
        if path.startswith(f"{prefix}/collaborators/") and path.endswith("/permission"):
            user = path.split("/")[-2]
            role = ROLES.get(user, "none")
            return self.answer(200, {"permission": role, "role_name": role})
        if path == prefix:
            return self.answer(200, {"full_name": repo, "default_branch": "main"})
        if path == f"{prefix}/actions/workflows/run-sweep.yml/runs":
            return self.answer(200, {"total_count": 1, "workflow_runs": [{"id": 4242, "event": "push", "head_repository": {"full_name": repo}}]})
        if path == f"{prefix}/actions/runs/4242/artifacts":
            arts = [{"id": i, "name": n, "expired": False} for i, (n, _) in ZIPS.items()]
            return self.answer(200, {"total_count": len(arts), "artifacts": arts})
        if path.startswith(f"{prefix}/actions/artifacts/") and path.endswith("/zip"):
            found = ZIPS.get(int(path.split("/")[-2]) if path.split("/")[-2].isdigit() else -1)
            if found:
                data = open(found[1], "rb").read()
                self.send_response(200)
                self.send_header("content-type", "application/zip")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
        if path == f"{prefix}/pulls/{pr}":
            return self.answer(200, {"number": int(pr), "state": "open",
                                     "base": {"ref": "main", "sha": base},
                                     "head": {"ref": "act", "sha": head}})
        self.answer(404, {"message": "Not Found"})

    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        self.record(body)
        if self.path == f"/repos/{repo}/issues/{pr}/comments":
            return self.answer(201, {"html_url": f"https://github.com/{repo}/pull/{pr}#c1"})
        self.answer(404, {"message": "Not Found"})

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(port)), Api).serve_forever()
