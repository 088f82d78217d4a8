// A VGIS peer: one JSON request per line on stdin, one response per line on
// stdout (docs/peer-protocol.md). It answers hello and shutdown; every other
// op is "unsupported" until you implement it. Logs go to stderr.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

const name = "@PEER_NAME@"

// capabilities must equal peer.toml's list.
var capabilities = []string{}

type request map[string]any

type rejected struct{ kind, message string }

func (r rejected) Error() string { return r.message }

// decode parses one request with UseNumber: every number stays a json.Number
// (its digits), so u64 offsets up to 2^64-1 are exact; read them with
// strconv.ParseUint(string(n), 10, 64).
func decode(line []byte) (request, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var req request
	if err := dec.Decode(&req); err != nil {
		return nil, err
	}
	return req, nil
}

func handle(req request) (map[string]any, error) {
	switch req["op"] {
	case "hello":
		return map[string]any{
			"name": name, "version": "0.1.0", "language": "go", "protocol": 1,
			"arrow":        map[string]any{"library": "none", "version": "0"},
			"capabilities": capabilities,
		}, nil
	case "shutdown":
		return map[string]any{}, nil
	}
	return nil, rejected{"unsupported", fmt.Sprintf("op %v is not implemented yet", req["op"])}
}

func answer(line []byte) (map[string]any, bool) {
	req, err := decode(line)
	if err != nil {
		return failure(nil, "bad_request", "not JSON: "+err.Error()), false
	}
	result, err := handle(req)
	if err != nil {
		if r, ok := err.(rejected); ok {
			return failure(req["id"], r.kind, r.message), false
		}
		return failure(req["id"], "internal", err.Error()), false
	}
	result["id"], result["ok"] = req["id"], true
	return result, req["op"] == "shutdown"
}

func failure(id any, kind, message string) map[string]any {
	return map[string]any{"id": id, "ok": false, "error": map[string]any{"kind": kind, "message": message}}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		if len(bytes.TrimSpace(in.Bytes())) == 0 {
			continue
		}
		response, stop := answer(in.Bytes())
		encoded, err := json.Marshal(response)
		if err != nil {
			encoded, _ = json.Marshal(failure(response["id"], "internal", err.Error()))
		}
		out.Write(append(encoded, '\n'))
		out.Flush()
		if stop {
			return
		}
	}
}
