// A VGIS peer: one JSON request per line on stdin, one response per line on
// stdout (docs/peer-protocol.md). It answers hello and shutdown; every other
// op is "unsupported" until you implement it. Logs go to stderr.
//
// JSON.parse turns every number into a double and silently rounds anything
// above 2^53, but offsets and sizes reach 2^64 - 1. lossless-json parses each
// number from its digits: integers beyond the safe range become BigInt, and
// its stringify writes BigInt back as digits.
"use strict";

const path = require("node:path");
const readline = require("node:readline");

// The harness installs lossless-json into its build folder (argv[2]); a plain
// `npm install` here works too.
const lossless = require(require.resolve("lossless-json", {
  paths: [process.argv[2], __dirname].filter(Boolean).map((p) => path.resolve(p)),
}));

const NAME = "@PEER_NAME@";
const CAPABILITIES = []; // keep equal to peer.toml's list

function parseNumber(digits) {
  if (lossless.isSafeNumber(digits)) return Number(digits);
  return lossless.isInteger(digits) ? BigInt(digits) : Number(digits);
}

class Rejected extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

const OPS = {
  hello: () => ({
    name: NAME, version: "0.1.0", language: "javascript", protocol: 1,
    arrow: { library: "none", version: "0" }, capabilities: CAPABILITIES,
  }),
  shutdown: () => ({}),
};

function answer(line) {
  let req;
  try {
    req = lossless.parse(line, null, parseNumber);
  } catch (err) {
    return [{ id: null, ok: false, error: { kind: "bad_request", message: `not JSON: ${err.message}` } }, false];
  }
  const id = req && typeof req === "object" ? req.id : null;
  try {
    const handler = Object.hasOwn(OPS, req.op) ? OPS[req.op] : null;
    if (handler === null) throw new Rejected("unsupported", `op ${req.op} is not implemented yet`);
    return [{ id, ok: true, ...handler(req) }, req.op === "shutdown"];
  } catch (err) {
    const kind = err instanceof Rejected ? err.kind : "internal";
    return [{ id, ok: false, error: { kind, message: String(err.message || err) } }, false];
  }
}

const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on("line", (line) => {
  if (line.trim() === "") return;
  const [response, stop] = answer(line);
  process.stdout.write(lossless.stringify(response) + "\n");
  if (stop) {
    input.close();
    process.stdout.end(() => process.exit(0));
  }
});
