package peersdk

import (
	"errors"
	"fmt"
)

// Kind is an error kind of the peer protocol (docs/peer-protocol.md).
type Kind string

// The error kinds a response may carry.
const (
	BadHeader      Kind = "bad_header"
	BadName        Kind = "bad_name"
	OutOfBounds    Kind = "out_of_bounds"
	BadPointer     Kind = "bad_pointer"
	NoAllocation   Kind = "no_allocation"
	IPCError       Kind = "ipc_error"
	SchemaMismatch Kind = "schema_mismatch"
	BadRequest     Kind = "bad_request"
	Unsupported    Kind = "unsupported"
	Internal       Kind = "internal"
)

// Error is an error with a protocol kind. Adapters return it (usually through
// Errorf or Wrap) to choose the kind of an error response; any other error is
// answered as Internal.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	if e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an Error of the given kind.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Wrap gives err a kind, keeping its message. A nil err stays nil.
func Wrap(kind Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: kind, Err: err}
}

// KindOf returns the kind of err: the kind of the first Error in its chain,
// or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}
