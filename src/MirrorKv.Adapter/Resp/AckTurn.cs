using MirrorKv.Transport;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// The next turn of a command that runs in turns (FLUSHDB), due once the secondary has applied what the last
/// turn wrote: the records of one turn at most then stand in the peer link ahead of the next heartbeat, whatever
/// the command's size, so the echo that renews the primary's lease is not held back behind them.
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
