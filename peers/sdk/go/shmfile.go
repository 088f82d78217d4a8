package peersdk

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// ShmDir is where POSIX shared-memory objects appear on Linux.
const ShmDir = "/dev/shm"

// ShmPath is the file of the POSIX shared-memory object name ("/x" or "x").
func ShmPath(name string) string {
	return ShmDir + "/" + strings.TrimLeft(name, "/")
}

// ObjectSize is the size of the shared-memory object name (its fstat size),
// for an adapter whose library needs a size where the harness advertises
// none. A missing object is BadName.
func ObjectSize(name string) (uint64, error) {
	st, err := os.Stat(ShmPath(name))
	if err != nil {
		return 0, Errorf(BadName, "[LIFE-9] %v", err)
	}
	return uint64(st.Size()), nil
}

// Mapping is an independent mapping of a shared-memory object, for reading
// what the library offers no view of (the header) or for the bench's memcpy.
// It is not the library's mapping and never changes the object's size.
type Mapping struct {
	Bytes []byte
}

// MapObject maps the first size bytes of the object name, read-only unless
// writable. Bytes past the object's end fault when touched (Run turns the
// fault into an internal error).
func MapObject(name string, size int, writable bool) (*Mapping, error) {
	flag, prot := os.O_RDONLY, syscall.PROT_READ
	if writable {
		flag, prot = os.O_RDWR, syscall.PROT_READ|syscall.PROT_WRITE
	}
	f, err := os.OpenFile(ShmPath(name), flag, 0)
	if err != nil {
		return nil, Errorf(BadName, "second mapping of %s: %v", name, err)
	}
	defer f.Close()
	b, err := syscall.Mmap(int(f.Fd()), 0, size, prot, syscall.MAP_SHARED)
	if err != nil {
		return nil, Errorf(Internal, "second mapping of %s: mmap: %v", name, err)
	}
	return &Mapping{Bytes: b}, nil
}

// Close unmaps; it is safe to call twice.
func (m *Mapping) Close() error {
	if m == nil || m.Bytes == nil {
		return nil
	}
	b := m.Bytes
	m.Bytes = nil
	if err := syscall.Munmap(b); err != nil {
		return fmt.Errorf("munmap: %w", err)
	}
	return nil
}
