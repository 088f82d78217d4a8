// A VGIS peer over the kit's Go peer SDK (vgis.dev/peersdk, peers/sdk/go in
// the kit): the SDK runs the JSON-lines loop (docs/peer-protocol.md), decodes
// the arguments (integers are uint64, exact up to 2^64-1), reads and writes
// the batch and schema files with arrow-go, keeps the segment handles,
// answers every panic with internal and closes and unlinks on shutdown. You
// implement Port and Segment over your library.
//
// It answers hello and shutdown; every other op is "unsupported" until you
// implement it: Create and Attach below first, then the segment methods,
// then the optional interfaces (peersdk.Allocator, Reader, ...), each behind
// the capability of its name, declared in capabilities and peer.toml. Logs go
// to stderr.
package main

import (
	"os"
	"runtime/debug"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"vgis.dev/peersdk"
)

// capabilities must equal peer.toml's list.
var capabilities = []string{}

func main() { os.Exit(peersdk.Run(port{})) }

type port struct{}

func (port) Info() peersdk.Info {
	return peersdk.Info{
		Name: "@PEER_NAME@", Version: "0.1.0", Language: "go",
		ArrowLibrary: "arrow-go", ArrowVersion: moduleVersion("github.com/apache/arrow-go/v18"),
		Capabilities: capabilities,
	}
}

func (port) Create(name string, size uint64) (peersdk.Segment, error) {
	return nil, notYet("create")
}

func (port) Attach(name string, size *uint64) (peersdk.Segment, error) {
	return nil, notYet("attach")
}

// segment is one segment of your library; Create and Attach return it.
type segment struct {
	name string
	size uint64
}

// The compiler checks that segment keeps up with the SDK's interface.
var _ peersdk.Segment = (*segment)(nil)

func (s *segment) Name() string { return s.name }
func (s *segment) Size() uint64 { return s.size }

func (s *segment) Header(length int) ([]byte, error) { return nil, notYet("header") }

func (s *segment) Write(batch arrow.RecordBatch) (offset, length uint64, ok bool, err error) {
	return 0, 0, false, notYet("write")
}

func (s *segment) Resolve(batch arrow.RecordBatch) (peersdk.Resolution, error) {
	return peersdk.Resolution{}, notYet("resolve")
}

func (s *segment) Close() error  { return notYet("close") }
func (s *segment) Unlink() error { return notYet("unlink") }

// notYet is the answer of an op until it is implemented; return
// peersdk.Errorf(kind, ...) or peersdk.Wrap(kind, err) for the protocol's
// other error kinds (any other error is answered as internal).
func notYet(op string) error {
	return peersdk.Errorf(peersdk.Unsupported, "%s is not implemented yet", op)
}

// moduleVersion is the version of a module linked into this binary, so hello
// reports the arrow-go that go.mod selected.
func moduleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == path {
				return strings.TrimPrefix(m.Version, "v")
			}
		}
	}
	return "unknown"
}
