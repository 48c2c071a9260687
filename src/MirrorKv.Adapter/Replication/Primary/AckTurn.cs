using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>
/// The next turn of a client connection, due once the secondary has applied what was written before it: the next
/// turn of a command that runs in turns (FLUSHDB), and a connection's input held while the secondary lags
/// (<see cref="MirrorKvNode.WhenBacklogApplied"/>). What stands in the peer link ahead of the next heartbeat then
/// stays bounded, whatever the command's or the burst's size, so the echo that renews the primary's lease is not
/// held back behind it.
/// </summary>
internal sealed class AckTurn(IConnection connection) : IAckListener
{
    // Asynchronous continuations: the next turn runs on the thread pool, not on the thread that handles the acks.
    private readonly TaskCompletionSource _due = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IConnection Connection { get; } = connection;

    public Task Due => _due.Task;

    public void OnAcked(ulong ackedLsn) => _due.TrySetResult();

    // The primary fenced: the next turn runs all the same, and is refused there (the connection closes unanswered).
    public void OnFailed(string message) => _due.TrySetResult();
}
