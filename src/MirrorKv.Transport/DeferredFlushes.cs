namespace MirrorKv.Transport;

/// <summary>
/// Flushes deferred to the end of a delivery round, for a thread that serves many connections in turn (an event
/// loop): <see cref="IConnection.FlushAfterDelivery"/> called while that thread delivers queues the connection
/// here, and the thread flushes every queued connection once it has served all that were ready. The thread's
/// own type stays out of the contract's namespace: it opts in with <see cref="ServeOnThisThread"/>.
/// </summary>
internal static class DeferredFlushes
{
    // Touched by its own thread only; null on threads that do not defer (thread-pool threads deliver one
    // connection at a time, and flush at once).
    [ThreadStatic]
    private static List<FramedConnection>? t_pending;

    /// <summary>On the delivering thread, once: flushes asked for on it from now on wait for <see cref="FlushAll"/>.</summary>
    public static void ServeOnThisThread() => t_pending ??= [];

    /// <summary>Queues <paramref name="connection"/> when the current thread defers flushes; false when it does not.</summary>
    public static bool TryDefer(FramedConnection connection)
    {
        if (t_pending is not { } pending)
        {
            return false;
        }

        if (!pending.Contains(connection))
        {
            pending.Add(connection);
        }

        return true;
    }

    /// <summary>On the delivering thread, after a round: flushes every queued connection.</summary>
    public static void FlushAll()
    {
        if (t_pending is not { Count: > 0 } pending)
        {
            return;
        }

        for (int i = 0; i < pending.Count; i++)
        {
            try
            {
                pending[i].Flush();
            }
            catch (Exception)
            {
                // A flush that fails closes its own connection; the others are flushed all the same.
            }
        }

        pending.Clear();
    }
}
