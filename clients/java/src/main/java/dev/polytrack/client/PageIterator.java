package dev.polytrack.client;

import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * Walks every page of a paged RPC lazily: the next page is fetched when the current one is used up, with
 * the previous response's {@code next_page_token}.
 */
final class PageIterator<Q, R, T> implements Iterator<T> {
    private final Function<Q, R> fetch;
    private final Function<R, List<T>> itemsOf;
    private final Function<R, String> nextTokenOf;
    private final BiFunction<Q, String, Q> withToken;
    private Q nextRequest;
    private Iterator<T> page = List.<T>of().iterator();

    PageIterator(Q firstRequest, Function<Q, R> fetch, Function<R, List<T>> itemsOf,
            Function<R, String> nextTokenOf, BiFunction<Q, String, Q> withToken) {
        this.nextRequest = firstRequest;
        this.fetch = fetch;
        this.itemsOf = itemsOf;
        this.nextTokenOf = nextTokenOf;
        this.withToken = withToken;
    }

    @Override
    public boolean hasNext() {
        while (!page.hasNext() && nextRequest != null) {
            R response = fetch.apply(nextRequest);
            page = itemsOf.apply(response).iterator();
            String token = nextTokenOf.apply(response);
            nextRequest = token == null || token.isEmpty() ? null : withToken.apply(nextRequest, token);
        }
        return page.hasNext();
    }

    @Override
    public T next() {
        if (!hasNext()) {
            throw new NoSuchElementException("no more pages");
        }
        return page.next();
    }
}
