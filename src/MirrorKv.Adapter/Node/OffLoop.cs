namespace MirrorKv.Adapter;

/// <summary>
/// Work an event loop hands to the thread pool instead of doing it between two frames. For log lines written when a
/// link is lost: the first warning of a process runs the logger's formatting path cold, which held up the loop's
/// reads for 6-10 ms at every kill of the primary (traced), exactly when clients send them to this node. Such a
/// line may then follow lines written later on other threads.
/// </summary>
internal static class OffLoop
{
    public static void Log(Action write) => ThreadPool.UnsafeQueueUserWorkItem(static write => write(), write, preferLocal: false);
}
