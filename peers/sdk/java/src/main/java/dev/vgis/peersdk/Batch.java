package dev.vgis.peersdk;

import java.util.Objects;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * One batch as the SDK reads it from (or writes it to) a batch file: the
 * root, the dictionaries its dictionary-encoded fields refer to, and whether
 * the file held a record batch at all (a schema file holds none; its root then
 * has zero rows).
 *
 * <p>A Batch does not own its root: the SDK closes what it read after the
 * request, and an adapter closes what its implementation returned.</p>
 */
public record Batch(VectorSchemaRoot root, DictionaryProvider dictionaries, boolean hadBatch) {
    public Batch {
        Objects.requireNonNull(root, "root");
        if (dictionaries == null) {
            dictionaries = new DictionaryProvider.MapDictionaryProvider();
        }
    }

    /** A batch with no dictionaries. */
    public static Batch of(VectorSchemaRoot root) {
        return new Batch(root, null, true);
    }

    public Schema schema() {
        return root.getSchema();
    }

    public int rows() {
        return root.getRowCount();
    }
}
