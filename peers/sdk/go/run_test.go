package peersdk

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

type fakePort struct{ caps []string }

func (f fakePort) Info() Info {
	return Info{Name: "fake", Version: "0", Language: "go", ArrowLibrary: "arrow-go", ArrowVersion: "x",
		Capabilities: f.caps}
}

func (fakePort) Create(name string, size uint64) (Segment, error) {
	if size <= 65536 {
		return nil, Errorf(BadRequest, "[LIFE-1] too small")
	}
	return &fakeSegment{name: name, size: size}, nil
}

func (fakePort) Attach(string, *uint64) (Segment, error) { panic("attach exploded") }

type fakeSegment struct {
	name          string
	size          uint64
	closed, unlin int
}

func (s *fakeSegment) Name() string                                          { return s.name }
func (s *fakeSegment) Size() uint64                                          { return s.size }
func (s *fakeSegment) Header(n int) ([]byte, error)                          { return bytes.Repeat([]byte{0xab}, n), nil }
func (s *fakeSegment) Close() error                                          { s.closed++; return nil }
func (s *fakeSegment) Unlink() error                                         { s.unlin++; return nil }
func (s *fakeSegment) Reset() error                                          { return nil }
func (s *fakeSegment) Write(arrow.RecordBatch) (uint64, uint64, bool, error) { return 0, 0, false, nil }
func (s *fakeSegment) Resolve(b arrow.RecordBatch) (Resolution, error) {
	return Resolution{Batch: b}, nil
}

func serve(t *testing.T, port Port, lines ...string) []map[string]any {
	t.Helper()
	var out bytes.Buffer
	if status := Serve(port, strings.NewReader(strings.Join(lines, "\n")+"\n"), &out); status != 0 {
		t.Fatalf("exit status %d", status)
	}
	var got []map[string]any
	dec := json.NewDecoder(&out)
	dec.UseNumber()
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	return got
}

func kind(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["kind"].(string)
	return s
}

func TestLoop(t *testing.T) {
	got := serve(t, fakePort{caps: []string{CapReset}},
		`{"id": 18446744073709551615, "op": "hello"}`,
		`{"id": 2, "op": "create", "name": "/a", "size": 65536}`,
		`{"id": 3, "op": "create", "name": "/a", "size": 18446744073709551615}`,
		`{"id": 4, "op": "create", "name": "/a", "size": -1}`,
		`{"id": 5, "op": "attach", "name": "/a", "size": null}`,
		`{"id": 6, "op": "header", "segment": "s1", "length": 4}`,
		`{"id": 7, "op": "allocate", "segment": "s1", "size": 8}`,
		`{"id": 8, "op": "bogus"}`,
		`not json`,
		`{"id": 9, "op": "reset", "segment": "s1"}`,
		`{"id": 10, "op": "close", "segment": "s1"}`,
		`{"id": 11, "op": "header", "segment": "s1", "length": 4}`,
		`{"id": 12, "op": "shutdown"}`,
		`{"id": 13, "op": "hello"}`,
	)
	if len(got) != 13 {
		t.Fatalf("%d responses, want 13 (nothing after shutdown): %v", len(got), got)
	}
	if id := got[0]["id"].(json.Number).String(); id != "18446744073709551615" {
		t.Errorf("id echoed as %s", id)
	}
	if caps := got[0]["capabilities"].([]any); len(caps) != 1 || caps[0] != "reset" {
		t.Errorf("capabilities %v", caps)
	}
	want := map[int]string{1: "bad_request", 3: "bad_request", 4: "internal", 6: "unsupported", 7: "unsupported",
		8: "bad_request", 11: "bad_request"}
	for i, k := range want {
		if kind(got[i]) != k {
			t.Errorf("response %d: kind %q, want %q: %v", i, kind(got[i]), k, got[i])
		}
	}
	if got[2]["size"].(json.Number).String() != "18446744073709551615" || got[2]["segment"] != "s1" {
		t.Errorf("create: %v", got[2])
	}
	if got[5]["hex"] != "abababab" {
		t.Errorf("header: %v", got[5])
	}
}

func TestShutdownClosesAndUnlinksOnce(t *testing.T) {
	var seg *fakeSegment
	port := capturePort{fakePort{}, &seg}
	serve(t, port, `{"id": 1, "op": "create", "name": "/a", "size": 70000}`,
		`{"id": 2, "op": "close", "segment": "s1"}`)
	if seg.closed != 1 || seg.unlin != 1 {
		t.Errorf("closed %d, unlinked %d times; want once each", seg.closed, seg.unlin)
	}
}

type capturePort struct {
	fakePort
	seg **fakeSegment
}

func (c capturePort) Create(name string, size uint64) (Segment, error) {
	s, err := c.fakePort.Create(name, size)
	if err == nil {
		*c.seg = s.(*fakeSegment)
	}
	return s, err
}

func TestUndeclaredInterfaceIsRefused(t *testing.T) {
	got := serve(t, fakePort{caps: []string{CapRead}}, `{"id": 1, "op": "create", "name": "/a", "size": 70000}`)
	if kind(got[0]) != "internal" {
		t.Errorf("a segment lacking a declared capability was kept: %v", got[0])
	}
}
