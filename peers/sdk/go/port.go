// Package peersdk is the protocol plumbing of a VGIS conformance peer written
// in Go: the JSON-lines loop on stdin/stdout, the segment-handle table, Arrow
// IPC batch and schema files, error kinds, panic recovery, hello and shutdown
// (docs/peer-protocol.md). The bench operation is not implemented yet: it
// answers unsupported.
//
// It knows nothing about any VGIS implementation. An adapter implements Port
// and Segment over the library under test, plus the optional interfaces
// (Allocator, Lister, Shrinker, Resetter, Reader, MaybeWriter, Advertiser,
// PointerMaker) behind the capabilities it declares, and calls Run.
package peersdk

import "github.com/apache/arrow-go/v18/arrow"

// Capabilities of the peer protocol, each behind the optional interface named
// in its comment.
const (
	CapAllocate    = "allocate"     // Segment implements Allocator
	CapAllocations = "allocations"  // Segment implements Lister
	CapShrink      = "shrink"       // Segment implements Shrinker
	CapReset       = "reset"        // Segment implements Resetter
	CapRead        = "read"         // Segment implements Reader
	CapMakePointer = "make_pointer" // Port implements PointerMaker
	CapMaybeWrite  = "maybe_write"  // Segment implements MaybeWriter
	CapAdvertise   = "advertise"    // Segment implements Advertiser
)

// Info is what hello reports, besides the protocol version.
type Info struct {
	Name         string
	Version      string
	Language     string
	ArrowLibrary string
	ArrowVersion string
	// Capabilities must equal the peer.toml list; Run checks that each is
	// backed by its interface.
	Capabilities []string
	// MinBatchBytes is the size gate of maybe_write (WRITE-5), nil if none.
	MinBatchBytes *int64
}

// Port is the library under test: it creates and attaches segments.
type Port interface {
	Info() Info
	// Create makes a segment of size bytes. name is the name the harness
	// asks for; Segment.Name reports the OS name actually used.
	Create(name string, size uint64) (Segment, error)
	// Attach opens an existing segment; size is the advertised size, nil
	// when the harness advertises none.
	Attach(name string, size *uint64) (Segment, error)
}

// Segment is one created or attached segment. Run serialises all calls.
type Segment interface {
	// Name is the OS name of the segment as the library reports it.
	Name() string
	// Size is the mapped size in bytes.
	Size() uint64
	// Header returns the first length bytes of the segment as the library
	// sees them (length <= Size).
	Header(length int) ([]byte, error)
	// Write is the library's own write path. ok is false when the batch
	// does not fit. batch has at least one row.
	Write(batch arrow.RecordBatch) (offset, length uint64, ok bool, err error)
	// Resolve turns a pointer batch into the batch it points to, or returns
	// a non-pointer batch unchanged. It does not free.
	Resolve(batch arrow.RecordBatch) (Resolution, error)
	// Close unmaps; it never unlinks. Run calls it at most once.
	Close() error
	// Unlink removes the OS object. Run calls it only for a created
	// segment, at most once, possibly after Close.
	Unlink() error
}

// Resolution is what Segment.Resolve found.
type Resolution struct {
	Batch   arrow.RecordBatch // the resolved batch, or the input unchanged
	Pointer bool              // the input was a pointer batch
	// ReleaseOffset is the offset the caller must free, nil if none.
	ReleaseOffset *uint64
}

// Allocator backs the allocate capability (allocate and free).
type Allocator interface {
	Allocate(size uint64) (offset uint64, ok bool, err error)
	Free(offset uint64) error
}

// Lister backs the allocations capability: the table as the library reads
// it, for a library with a public view of its table.
type Lister interface {
	Allocations() ([][2]uint64, error)
}

// Shrinker backs the shrink capability.
type Shrinker interface {
	Shrink(offset, length uint64) error
}

// Resetter backs the reset capability.
type Resetter interface {
	Reset() error
}

// Reader backs the read capability: decode the region (offset, length) with
// the given schema.
type Reader interface {
	Read(offset, length uint64, schema *arrow.Schema) (arrow.RecordBatch, error)
}

// MaybeWriter backs the maybe_write capability: write batch into the
// segment and return a pointer batch, or return batch unchanged.
type MaybeWriter interface {
	MaybeWrite(batch arrow.RecordBatch) (out arrow.RecordBatch, pointer bool, err error)
}

// Advertiser backs the advertise capability: the request metadata that
// advertises the segment (ADV-1).
type Advertiser interface {
	Advertise() (map[string]string, error)
}

// PointerMaker backs the make_pointer capability.
type PointerMaker interface {
	MakePointer(schema *arrow.Schema, offset, length uint64) (arrow.RecordBatch, error)
}
