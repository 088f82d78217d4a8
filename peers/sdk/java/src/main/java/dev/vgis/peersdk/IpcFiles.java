package dev.vgis.peersdk;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;

/** Batch and schema files: Arrow IPC streams read and written with Arrow Java's stock stream reader and writer. */
public final class IpcFiles {
    private IpcFiles() {}

    /** A batch file, open: the batch stays valid until {@link #close}. */
    public static final class Opened implements AutoCloseable {
        private final ArrowStreamReader reader;
        private final Batch batch;

        Opened(ArrowStreamReader reader, Batch batch) {
            this.reader = reader;
            this.batch = batch;
        }

        public Batch batch() {
            return batch;
        }

        @Override
        public void close() throws IOException {
            reader.close();
        }
    }

    /** Read the schema and the first record batch (if any) of the IPC stream at {@code path}. */
    public static Opened read(String path, BufferAllocator allocator) throws PeerError, IOException {
        Path p = Path.of(path);
        FileChannel channel;
        try {
            channel = FileChannel.open(p, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw PeerError.badRequest("no such batch or schema file: " + path);
        }
        ArrowStreamReader reader = new ArrowStreamReader(channel, allocator);
        try {
            VectorSchemaRoot root = reader.getVectorSchemaRoot();
            boolean had = reader.loadNextBatch();
            if (!had) {
                root.setRowCount(0);
            }
            return new Opened(reader, new Batch(root, reader, had));
        } catch (IOException | RuntimeException e) {
            reader.close();
            throw new PeerError(Kind.BAD_REQUEST, "cannot read the IPC stream file " + path + ": " + e, e);
        }
    }

    /** Write {@code batch} as a complete IPC stream (schema, dictionaries, the batch, EOS) to {@code path}. */
    public static void write(String path, Batch batch) throws IOException, PeerError {
        for (Field f : batch.schema().getFields()) {
            missingDictionary(f, batch.dictionaries());
        }
        try (FileChannel channel = FileChannel.open(Path.of(path), StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
             ArrowStreamWriter writer = new ArrowStreamWriter(batch.root(), batch.dictionaries(), channel)) {
            writer.start();
            writer.writeBatch();
            writer.end();
        }
    }

    /** Refuse, with a clear message, a batch whose dictionary-encoded field has no dictionary to write. */
    private static void missingDictionary(Field f, DictionaryProvider dictionaries) throws PeerError {
        DictionaryEncoding enc = f.getDictionary();
        if (enc != null && dictionaries.lookup(enc.getId()) == null) {
            throw new PeerError(Kind.INTERNAL, "field " + f.getName() + " is dictionary-encoded (id " + enc.getId()
                    + ") but the implementation returned no dictionary for it");
        }
        for (Field c : f.getChildren()) {
            missingDictionary(c, dictionaries);
        }
    }
}
