package peersdk

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
)

// ProtocolVersion is the version of docs/peer-protocol.md this SDK speaks.
const ProtocolVersion = 1

// Request is one protocol request. Optional arguments are pointers, nil when
// absent; integers are uint64, so values up to 2^64-1 are exact and a
// negative or fractional value is a bad_request.
type Request struct {
	ID       json.RawMessage   `json:"id"`
	Op       string            `json:"op"`
	Segment  *string           `json:"segment"`
	Name     *string           `json:"name"`
	Size     *uint64           `json:"size"`
	Offset   *uint64           `json:"offset"`
	Length   *uint64           `json:"length"`
	Batch    *string           `json:"batch"`
	Schema   *string           `json:"schema"`
	Out      *string           `json:"out"`
	Metadata map[string]string `json:"metadata"`
	Action   *string           `json:"action"`
	Repeat   *uint64           `json:"repeat"`
	Path     *string           `json:"path"`
}

// Result is the body of a successful response.
type Result map[string]any

type handle struct {
	seg      Segment
	created  bool
	closed   bool
	unlinked bool
}

type peer struct {
	port     Port
	info     Info
	caps     map[string]bool
	segments map[string]*handle
	order    []string
	next     int
}

// Run answers requests from stdin on stdout until end of input or shutdown,
// then closes every segment and unlinks the created ones. It returns the
// process exit status: 0, or 2 when the adapter declares a capability it
// does not implement.
func Run(port Port) int {
	return Serve(port, os.Stdin, os.Stdout)
}

// Serve is Run on any reader and writer.
func Serve(port Port, in io.Reader, out io.Writer) int {
	// A fault in a mapping (SIGBUS past the object's end) panics instead of
	// killing the process, so it becomes an internal error response.
	debug.SetPanicOnFault(true)
	p := &peer{port: port, info: port.Info(), segments: map[string]*handle{}}
	p.caps = map[string]bool{}
	for _, c := range p.info.Capabilities {
		p.caps[c] = true
	}
	if err := p.checkCapabilities(); err != nil {
		fmt.Fprintln(os.Stderr, "peersdk:", err)
		return 2
	}
	r := bufio.NewReaderSize(in, 1<<16)
	w := bufio.NewWriter(out)
	defer p.shutdown()
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			resp, stop := p.answer(line)
			w.Write(resp)
			w.WriteByte('\n')
			if ferr := w.Flush(); ferr != nil {
				fmt.Fprintln(os.Stderr, "peersdk: stdout:", ferr)
				return 1
			}
			if stop {
				return 0
			}
		}
		if err != nil {
			if err != io.EOF {
				fmt.Fprintln(os.Stderr, "peersdk: stdin:", err)
			}
			return 0
		}
	}
}

// segmentCapabilities maps each capability backed by a Segment interface to
// a probe for it.
var segmentCapabilities = map[string]func(Segment) bool{
	CapAllocate:    func(s Segment) bool { _, ok := s.(Allocator); return ok },
	CapAllocations: func(s Segment) bool { _, ok := s.(Lister); return ok },
	CapShrink:      func(s Segment) bool { _, ok := s.(Shrinker); return ok },
	CapReset:       func(s Segment) bool { _, ok := s.(Resetter); return ok },
	CapRead:        func(s Segment) bool { _, ok := s.(Reader); return ok },
	CapMaybeWrite:  func(s Segment) bool { _, ok := s.(MaybeWriter); return ok },
	CapAdvertise:   func(s Segment) bool { _, ok := s.(Advertiser); return ok },
}

// checkCapabilities checks the declared names and the Port-level ones; the
// Segment-level ones are checked on every segment (checkSegment).
func (p *peer) checkCapabilities() error {
	for c := range p.caps {
		if c == CapMakePointer {
			if _, ok := p.port.(PointerMaker); !ok {
				return fmt.Errorf("capability %s declared but the Port is no PointerMaker", c)
			}
			continue
		}
		if segmentCapabilities[c] == nil {
			return fmt.Errorf("unknown capability %q", c)
		}
	}
	return nil
}

// checkSegment reports a declared capability that seg does not implement.
func (p *peer) checkSegment(seg Segment) error {
	for c := range p.caps {
		if probe := segmentCapabilities[c]; probe != nil && !probe(seg) {
			return Errorf(Internal, "adapter bug: capability %s declared but %T does not implement it", c, seg)
		}
	}
	return nil
}

// answer handles one request line and returns the response line and whether
// the peer must stop.
func (p *peer) answer(line []byte) (resp []byte, stop bool) {
	var req Request
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return encode(json.RawMessage("null"), nil, Errorf(BadRequest, "request is not a JSON object: %v", err)), false
	}
	req.ID = raw["id"]
	if req.ID == nil {
		req.ID = json.RawMessage("null")
	}
	if err := json.Unmarshal(line, &req); err != nil {
		return encode(req.ID, nil, Errorf(BadRequest, "malformed request: %v", err)), false
	}
	result, err := p.dispatch(&req)
	return encode(req.ID, result, err), req.Op == "shutdown" && err == nil
}

func encode(id json.RawMessage, result Result, err error) []byte {
	body := map[string]any{"id": id}
	if err != nil {
		body["ok"] = false
		body["error"] = map[string]string{"kind": string(KindOf(err)), "message": err.Error()}
	} else {
		body["ok"] = true
		for k, v := range result {
			if k != "id" && k != "ok" {
				body[k] = v
			}
		}
	}
	out, merr := json.Marshal(body)
	if merr != nil {
		out, _ = json.Marshal(map[string]any{"id": id, "ok": false,
			"error": map[string]string{"kind": string(Internal), "message": "encoding the response: " + merr.Error()}})
	}
	return out
}

// dispatch runs one op; a panic becomes an internal error.
func (p *peer) dispatch(req *Request) (result Result, err error) {
	defer func() {
		if rv := recover(); rv != nil {
			fmt.Fprintf(os.Stderr, "peersdk: panic in %s: %v\n%s", req.Op, rv, debug.Stack())
			result, err = nil, Errorf(Internal, "panic in %s: %v", req.Op, rv)
		}
	}()
	op, known := ops[req.Op]
	if !known {
		return nil, Errorf(Unsupported, "unknown op %q", req.Op)
	}
	if op.capability != "" && !p.caps[op.capability] {
		return nil, Errorf(Unsupported, "%s needs capability %s, which this peer lacks", req.Op, op.capability)
	}
	return op.run(p, req)
}

type opSpec struct {
	capability string
	run        func(*peer, *Request) (Result, error)
}

var ops map[string]opSpec

func init() {
	ops = map[string]opSpec{
		"hello":        {"", (*peer).opHello},
		"shutdown":     {"", (*peer).opShutdown},
		"create":       {"", (*peer).opCreate},
		"attach":       {"", (*peer).opAttach},
		"close":        {"", (*peer).opClose},
		"unlink":       {"", (*peer).opUnlink},
		"header":       {"", (*peer).opHeader},
		"write":        {"", (*peer).opWrite},
		"resolve":      {"", (*peer).opResolve},
		"allocate":     {CapAllocate, (*peer).opAllocate},
		"free":         {CapAllocate, (*peer).opFree},
		"allocations":  {CapAllocations, (*peer).opAllocations},
		"shrink":       {CapShrink, (*peer).opShrink},
		"reset":        {CapReset, (*peer).opReset},
		"read":         {CapRead, (*peer).opRead},
		"make_pointer": {CapMakePointer, (*peer).opMakePointer},
		"maybe_write":  {CapMaybeWrite, (*peer).opMaybeWrite},
		"advertise":    {CapAdvertise, (*peer).opAdvertise},
	}
}

func (p *peer) opHello(*Request) (Result, error) {
	caps := slices.Clone(p.info.Capabilities)
	if caps == nil {
		caps = []string{}
	}
	slices.Sort(caps)
	r := Result{
		"name": p.info.Name, "version": p.info.Version, "language": p.info.Language,
		"protocol":     ProtocolVersion,
		"arrow":        map[string]string{"library": p.info.ArrowLibrary, "version": p.info.ArrowVersion},
		"capabilities": caps,
	}
	if p.info.MinBatchBytes != nil {
		r["min_batch_bytes"] = *p.info.MinBatchBytes
	}
	return r, nil
}

func (p *peer) opShutdown(*Request) (Result, error) {
	p.shutdown()
	return Result{}, nil
}

// shutdown closes every open segment and unlinks every created one not yet
// unlinked; errors go to stderr.
func (p *peer) shutdown() {
	for _, id := range p.order {
		h := p.segments[id]
		if !h.closed {
			h.closed = true
			if err := h.seg.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "peersdk: shutdown: close %s: %v\n", id, err)
			}
		}
		if h.created && !h.unlinked {
			h.unlinked = true
			if err := h.seg.Unlink(); err != nil {
				fmt.Fprintf(os.Stderr, "peersdk: shutdown: unlink %s: %v\n", id, err)
			}
		}
	}
	p.segments = map[string]*handle{}
	p.order = nil
}

func (p *peer) keep(seg Segment, created bool) (Result, error) {
	if err := p.checkSegment(seg); err != nil {
		if cerr := seg.Close(); cerr != nil {
			fmt.Fprintln(os.Stderr, "peersdk:", cerr)
		}
		if created {
			if uerr := seg.Unlink(); uerr != nil {
				fmt.Fprintln(os.Stderr, "peersdk:", uerr)
			}
		}
		return nil, err
	}
	p.next++
	id := fmt.Sprintf("s%d", p.next)
	p.segments[id] = &handle{seg: seg, created: created}
	p.order = append(p.order, id)
	return Result{"segment": id, "name": seg.Name(), "size": seg.Size()}, nil
}

func (p *peer) opCreate(req *Request) (Result, error) {
	if req.Name == nil || req.Size == nil {
		return nil, Errorf(BadRequest, "create needs name and size")
	}
	seg, err := p.port.Create(*req.Name, *req.Size)
	if err != nil {
		return nil, err
	}
	return p.keep(seg, true)
}

func (p *peer) opAttach(req *Request) (Result, error) {
	if req.Name == nil {
		return nil, Errorf(BadRequest, "attach needs name")
	}
	seg, err := p.port.Attach(*req.Name, req.Size)
	if err != nil {
		return nil, err
	}
	return p.keep(seg, false)
}

// handle returns the request's segment handle, which must exist (and be
// open unless anyState).
func (p *peer) handle(req *Request, anyState bool) (*handle, error) {
	if req.Segment == nil {
		return nil, Errorf(BadRequest, "%s needs segment", req.Op)
	}
	h, ok := p.segments[*req.Segment]
	if !ok {
		return nil, Errorf(BadRequest, "unknown segment handle %q", *req.Segment)
	}
	if h.closed && !anyState {
		return nil, Errorf(BadRequest, "segment %s is closed", *req.Segment)
	}
	return h, nil
}

func (p *peer) open(req *Request) (Segment, error) {
	h, err := p.handle(req, false)
	if err != nil {
		return nil, err
	}
	return h.seg, nil
}

func (p *peer) opClose(req *Request) (Result, error) {
	h, err := p.handle(req, true)
	if err != nil {
		return nil, err
	}
	if !h.closed {
		h.closed = true
		if err := h.seg.Close(); err != nil {
			return nil, err
		}
	}
	return Result{}, nil
}

func (p *peer) opUnlink(req *Request) (Result, error) {
	h, err := p.handle(req, true)
	if err != nil {
		return nil, err
	}
	if !h.created {
		return nil, Errorf(BadRequest, "[LIFE-10] segment %s was attached: an attacher never unlinks", *req.Segment)
	}
	if h.unlinked {
		return nil, Errorf(BadRequest, "segment %s is already unlinked", *req.Segment)
	}
	h.unlinked = true
	if err := h.seg.Unlink(); err != nil {
		return nil, err
	}
	return Result{}, nil
}

func (p *peer) opHeader(req *Request) (Result, error) {
	seg, err := p.open(req)
	if err != nil {
		return nil, err
	}
	if req.Length == nil {
		return nil, Errorf(BadRequest, "header needs length")
	}
	if *req.Length > seg.Size() {
		return nil, Errorf(OutOfBounds, "header length %d exceeds the segment size %d", *req.Length, seg.Size())
	}
	b, err := seg.Header(int(*req.Length))
	if err != nil {
		return nil, err
	}
	return Result{"hex": hex.EncodeToString(b)}, nil
}

func (p *peer) opWrite(req *Request) (Result, error) {
	seg, err := p.open(req)
	if err != nil {
		return nil, err
	}
	batch, err := p.batchArg(req)
	if err != nil {
		return nil, err
	}
	defer batch.Release()
	if batch.NumRows() == 0 {
		return nil, Errorf(BadRequest, "[WRITE-4] zero-row batches are never written")
	}
	offset, length, ok, err := seg.Write(batch)
	if err != nil {
		return nil, err
	}
	if !ok {
		return Result{"offset": nil, "length": nil}, nil
	}
	return Result{"offset": offset, "length": length}, nil
}

func (p *peer) opResolve(req *Request) (Result, error) {
	seg, batch, err := p.segmentBatchOut(req, "resolve")
	if err != nil {
		return nil, err
	}
	defer batch.Release()
	res, err := seg.Resolve(WithMetadata(batch, req.Metadata))
	if err != nil {
		return nil, err
	}
	if res.Batch == nil {
		return nil, Errorf(Internal, "resolve returned no batch")
	}
	if err := WriteBatchFile(*req.Out, res.Batch); err != nil {
		return nil, err
	}
	var release any
	if res.ReleaseOffset != nil {
		release = *res.ReleaseOffset
	}
	return Result{"pointer": res.Pointer, "metadata": Metadata(res.Batch), "release_offset": release}, nil
}

func (p *peer) opAllocate(req *Request) (Result, error) {
	seg, err := p.open(req)
	if err != nil {
		return nil, err
	}
	if req.Size == nil {
		return nil, Errorf(BadRequest, "allocate needs size")
	}
	offset, ok, err := seg.(Allocator).Allocate(*req.Size)
	if err != nil {
		return nil, err
	}
	if !ok {
		return Result{"offset": nil}, nil
	}
	return Result{"offset": offset}, nil
}

func (p *peer) opFree(req *Request) (Result, error) {
	seg, err := p.open(req)
	if err != nil {
		return nil, err
	}
	if req.Offset == nil {
		return nil, Errorf(BadRequest, "free needs offset")
	}
	return Result{}, seg.(Allocator).Free(*req.Offset)
}

func (p *peer) opAllocations(req *Request) (Result, error) {
	seg, err := p.open(req)
	if err != nil {
		return nil, err
	}
	entries, err := seg.(Lister).Allocations()
	if err != nil {
		return nil, err
	}
	list := make([][2]uint64, 0, len(entries))
	return Result{"entries": append(list, entries...)}, nil
}

func (p *peer) opShrink(req *Request) (Result, error) {
	seg, err := p.open(req)
	if err != nil {
		return nil, err
	}
	if req.Offset == nil || req.Length == nil {
		return nil, Errorf(BadRequest, "shrink needs offset and length")
	}
	return Result{}, seg.(Shrinker).Shrink(*req.Offset, *req.Length)
}

func (p *peer) opReset(req *Request) (Result, error) {
	seg, err := p.open(req)
	if err != nil {
		return nil, err
	}
	return Result{}, seg.(Resetter).Reset()
}

func (p *peer) opRead(req *Request) (Result, error) {
	seg, err := p.open(req)
	if err != nil {
		return nil, err
	}
	if req.Offset == nil || req.Length == nil || req.Schema == nil || req.Out == nil {
		return nil, Errorf(BadRequest, "read needs offset, length, schema and out")
	}
	schema, err := ReadSchemaFile(*req.Schema)
	if err != nil {
		return nil, err
	}
	batch, err := seg.(Reader).Read(*req.Offset, *req.Length, schema)
	if err != nil {
		return nil, err
	}
	defer batch.Release()
	if err := WriteBatchFile(*req.Out, batch); err != nil {
		return nil, err
	}
	return Result{"rows": batch.NumRows()}, nil
}

func (p *peer) opMakePointer(req *Request) (Result, error) {
	if req.Offset == nil || req.Length == nil || req.Schema == nil || req.Out == nil {
		return nil, Errorf(BadRequest, "make_pointer needs schema, offset, length and out")
	}
	schema, err := ReadSchemaFile(*req.Schema)
	if err != nil {
		return nil, err
	}
	batch, err := p.port.(PointerMaker).MakePointer(schema, *req.Offset, *req.Length)
	if err != nil {
		return nil, err
	}
	defer batch.Release()
	if err := WriteBatchFile(*req.Out, batch); err != nil {
		return nil, err
	}
	return Result{"metadata": Metadata(batch)}, nil
}

func (p *peer) opMaybeWrite(req *Request) (Result, error) {
	seg, batch, err := p.segmentBatchOut(req, "maybe_write")
	if err != nil {
		return nil, err
	}
	defer batch.Release()
	out, pointer, err := seg.(MaybeWriter).MaybeWrite(WithMetadata(batch, req.Metadata))
	if err != nil {
		return nil, err
	}
	if err := WriteBatchFile(*req.Out, out); err != nil {
		return nil, err
	}
	return Result{"pointer": pointer, "metadata": Metadata(out)}, nil
}

func (p *peer) opAdvertise(req *Request) (Result, error) {
	seg, err := p.open(req)
	if err != nil {
		return nil, err
	}
	md, err := seg.(Advertiser).Advertise()
	if err != nil {
		return nil, err
	}
	return Result{"metadata": md}, nil
}
