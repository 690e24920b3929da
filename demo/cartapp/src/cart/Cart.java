package cart;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The shopping cart kept in the HttpSession. It is Serializable because the
 * cluster (DeltaManager or BackupManager) sends it to the other Tomcats.
 */
public class Cart implements Serializable {
    private static final long serialVersionUID = 1L;

    private final List<String> books = new ArrayList<>();

    public void add(String title) {
        books.add(title);
    }

    public List<String> getBooks() {
        return Collections.unmodifiableList(books);
    }
}
