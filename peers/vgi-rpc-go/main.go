// Command vgis-peer-vgi-rpc-go is the conformance peer of the Go port of
// vgi-rpc: a thin adapter from vgis.dev/peersdk's Port and Segment to what
// package vgirpc (github.com/Query-farm/vgi-rpc-go v0.25.0) exports.
// Every format decision is vgirpc's; nothing here parses or writes the format.
package main

import (
	"errors"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/Query-farm/vgi-rpc-go/vgirpc"
	"github.com/apache/arrow-go/v18/arrow"

	"vgis.dev/peersdk"
)

const (
	modulePath = "github.com/Query-farm/vgi-rpc-go"
	arrowPath  = "github.com/apache/arrow-go/v18"
)

// capabilities: reset (ShmSegment.Reset), read (ShmSegment.ReadBatch),
// maybe_write (MaybeWriteToShm). vgirpc exports no raw allocate, no table
// listing, no shrink, no pointer-batch constructor and no advertisement, so
// allocate, shrink, make_pointer and advertise are missing.
var capabilities = []string{peersdk.CapMaybeWrite, peersdk.CapRead, peersdk.CapReset}

func main() { os.Exit(peersdk.Run(port{})) }

type port struct{}

func (port) Info() peersdk.Info {
	info := peersdk.Info{
		Name: "vgi-rpc-go", Version: "unknown", Language: "go",
		ArrowLibrary: "arrow-go", ArrowVersion: "unknown", Capabilities: capabilities,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			switch m.Path {
			case modulePath:
				info.Version = strings.TrimPrefix(m.Version, "v")
			case arrowPath:
				info.ArrowVersion = strings.TrimPrefix(m.Version, "v")
			}
		}
	}
	gate := minBatchBytes()
	info.MinBatchBytes = &gate
	return info
}

// minBatchBytes repeats MaybeWriteToShm's private size gate
// (shmMinBatchBytes in shm.go): VGI_RPC_SHM_MIN_BATCH_BYTES or 128 KiB,
// measured as the sum of the top-level columns' buffer lengths.
func minBatchBytes() int64 {
	if v, err := strconv.ParseInt(os.Getenv("VGI_RPC_SHM_MIN_BATCH_BYTES"), 10, 64); err == nil {
		return v
	}
	return 128 * 1024
}

// Create ignores name: vgirpc.ShmCreate picks /vgi_rpc_<pid>_<nanos>_<n>
// (hex), which the response reports.
func (port) Create(_ string, size uint64) (peersdk.Segment, error) {
	if size > math.MaxInt {
		return nil, peersdk.Errorf(peersdk.BadRequest, "size %d does not fit ShmCreate's int", size)
	}
	shm, err := vgirpc.ShmCreate(int(size))
	if err != nil {
		if strings.HasPrefix(err.Error(), "shm size must be") {
			return nil, peersdk.Wrap(peersdk.BadRequest, err)
		}
		return nil, err
	}
	return newSegment(shm, true), nil
}

// Attach passes the advertised size, or the object's fstat size when there
// is none (vgirpc.ShmAttach needs one; a vgi-rpc server always has it from
// the request metadata). track=false: an attacher never unlinks.
func (port) Attach(name string, size *uint64) (peersdk.Segment, error) {
	var want uint64
	if size != nil {
		want = *size
	} else {
		got, err := peersdk.ObjectSize(name)
		if err != nil {
			return nil, err
		}
		want = got
	}
	if want > math.MaxInt {
		return nil, peersdk.Errorf(peersdk.BadHeader, "advertised size %d does not fit ShmAttach's int", want)
	}
	shm, err := vgirpc.ShmAttach(name, int(want), false)
	if err != nil {
		msg := err.Error()
		if strings.HasPrefix(msg, "shm_open(attach)") {
			return nil, peersdk.Wrap(peersdk.BadName, err)
		}
		return nil, peersdk.Wrap(peersdk.BadHeader, err)
	}
	return newSegment(shm, false), nil
}

// segment wraps a *vgirpc.ShmSegment, plus a second, read-only mapping of
// the same object for the header op: vgirpc offers no view of its bytes.
type segment struct {
	shm     *vgirpc.ShmSegment
	created bool
	view    *peersdk.Mapping
	viewErr error
}

func newSegment(shm *vgirpc.ShmSegment, created bool) *segment {
	s := &segment{shm: shm, created: created}
	s.view, s.viewErr = peersdk.MapObject(shm.Name(), shm.Size(), false)
	return s
}

func (s *segment) Name() string { return s.shm.Name() }
func (s *segment) Size() uint64 { return uint64(s.shm.Size()) }

func (s *segment) Header(length int) ([]byte, error) {
	if s.viewErr != nil {
		return nil, s.viewErr
	}
	return append([]byte(nil), s.view.Bytes[:length]...), nil
}

// Close unmaps an attached segment. A created one is only retired: vgirpc's
// Close of the owner also unlinks, so its mapping lives until Unlink.
func (s *segment) Close() error {
	if s.created {
		return nil
	}
	return errors.Join(s.shm.Close(), s.view.Close())
}

// Unlink is vgirpc's Close of the owner: munmap and shm_unlink.
func (s *segment) Unlink() error {
	return errors.Join(s.shm.Close(), s.view.Close())
}

func (s *segment) Write(batch arrow.RecordBatch) (uint64, uint64, bool, error) {
	offset, length, ok, err := s.shm.AllocateAndWrite(batch)
	if err != nil {
		return 0, 0, false, classify(err, peersdk.IPCError)
	}
	return offset, uint64(length), ok, nil
}

func (s *segment) Resolve(batch arrow.RecordBatch) (peersdk.Resolution, error) {
	pointer := vgirpc.IsShmPointerBatch(batch)
	out, offset, release, err := vgirpc.ResolveShmBatch(batch, s.shm)
	if err != nil {
		return peersdk.Resolution{}, classify(err, peersdk.IPCError)
	}
	res := peersdk.Resolution{Batch: out, Pointer: pointer}
	if release {
		res.ReleaseOffset = &offset
	}
	return res, nil
}

func (s *segment) Read(offset, length uint64, schema *arrow.Schema) (arrow.RecordBatch, error) {
	if length > math.MaxInt {
		return nil, peersdk.Errorf(peersdk.OutOfBounds, "length %d does not fit ReadBatch's int", length)
	}
	out, err := s.shm.ReadBatch(offset, int(length), schema)
	if err != nil {
		return nil, classify(err, peersdk.IPCError)
	}
	return out, nil
}

func (s *segment) MaybeWrite(batch arrow.RecordBatch) (arrow.RecordBatch, bool, error) {
	out, replaced, err := vgirpc.MaybeWriteToShm(batch, s.shm)
	if err != nil {
		return nil, false, classify(err, peersdk.IPCError)
	}
	return out, replaced, nil
}

func (s *segment) Reset() error {
	s.shm.Reset()
	return nil
}

// classify maps vgirpc's errors, which are fmt.Errorf strings (only
// ErrShmClosed is a sentinel), to protocol kinds by their message; what is
// left is fallback (an Arrow IPC decode or encode error).
func classify(err error, fallback peersdk.Kind) error {
	msg := err.Error()
	switch {
	case errors.Is(err, vgirpc.ErrShmClosed):
		return peersdk.Wrap(peersdk.BadRequest, err)
	case strings.HasPrefix(msg, "bad shm_offset"), strings.HasPrefix(msg, "bad shm_length"):
		return peersdk.Wrap(peersdk.BadPointer, err)
	case strings.HasPrefix(msg, "shm region out of bounds"):
		return peersdk.Wrap(peersdk.OutOfBounds, err)
	}
	return peersdk.Wrap(fallback, err)
}
