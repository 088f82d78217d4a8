package peersdk

import (
	"bufio"
	"os"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ReadBatchFile reads a batch file: an Arrow IPC stream with a schema and at
// most one record batch. The batch is nil when the file holds none. A file
// that is not such a stream is an IPCError.
func ReadBatchFile(path string) (*arrow.Schema, arrow.RecordBatch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, Errorf(BadRequest, "batch file: %v", err)
	}
	defer f.Close()
	rdr, err := ipc.NewReader(bufio.NewReader(f), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return nil, nil, Errorf(IPCError, "batch file %s: %v", path, err)
	}
	defer rdr.Release()
	schema := rdr.Schema()
	if !rdr.Next() {
		if err := rdr.Err(); err != nil {
			return nil, nil, Errorf(IPCError, "batch file %s: %v", path, err)
		}
		return schema, nil, nil
	}
	batch := rdr.RecordBatch()
	batch.Retain()
	return schema, batch, nil
}

// ReadSchemaFile reads a schema file: an Arrow IPC stream with no batch.
func ReadSchemaFile(path string) (*arrow.Schema, error) {
	schema, batch, err := ReadBatchFile(path)
	if batch != nil {
		batch.Release()
	}
	return schema, err
}

// WriteBatchFile writes batch to path as an IPC stream (schema, the batch,
// EOS), creating or truncating the file. The batch's custom metadata is not
// written: the protocol carries it in JSON.
func WriteBatchFile(path string, batch arrow.RecordBatch) error {
	f, err := os.Create(path)
	if err != nil {
		return Errorf(BadRequest, "out file: %v", err)
	}
	bw := bufio.NewWriter(f)
	w := ipc.NewWriter(bw, ipc.WithSchema(batch.Schema()))
	err = w.Write(batch)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Errorf(Internal, "writing %s: %v", path, err)
	}
	return nil
}

// EmptyBatch is a zero-row batch of schema.
func EmptyBatch(schema *arrow.Schema) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	return b.NewRecordBatch()
}

// WithMetadata returns batch (retained again) carrying md as its custom
// metadata, keys in sorted order.
func WithMetadata(batch arrow.RecordBatch, md map[string]string) arrow.RecordBatch {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = md[k]
	}
	return array.NewRecordBatchWithMetadata(batch.Schema(), batch.Columns(), batch.NumRows(),
		arrow.NewMetadata(keys, vals))
}

// Metadata is batch's custom metadata as a map (empty when it has none).
func Metadata(batch arrow.RecordBatch) map[string]string {
	out := map[string]string{}
	rb, ok := batch.(arrow.RecordBatchWithMetadata)
	if !ok {
		return out
	}
	md := rb.Metadata()
	for i, k := range md.Keys() {
		out[k] = md.Values()[i]
	}
	return out
}

// segmentBatchOut is the start of the ops that answer a batch: the request's segment, its
// batch file, and an out file to write the answer's batch to, checked before anything runs.
func (p *peer) segmentBatchOut(req *Request, op string) (Segment, arrow.RecordBatch, error) {
	seg, err := p.open(req)
	if err != nil {
		return nil, nil, err
	}
	if req.Out == nil {
		return nil, nil, Errorf(BadRequest, "%s needs out", op)
	}
	batch, err := p.batchArg(req)
	if err != nil {
		return nil, nil, err
	}
	return seg, batch, nil
}

// batchArg reads the request's batch file; a file without a batch yields a
// zero-row batch of its schema.
func (p *peer) batchArg(req *Request) (arrow.RecordBatch, error) {
	if req.Batch == nil {
		return nil, Errorf(BadRequest, "%s needs batch", req.Op)
	}
	schema, batch, err := ReadBatchFile(*req.Batch)
	if err != nil {
		return nil, err
	}
	if batch == nil {
		batch = EmptyBatch(schema)
	}
	return batch, nil
}
