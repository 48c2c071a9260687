using System.Diagnostics;

namespace MirrorKv.Client;

/// <summary>
/// Bounds the retries of one read two ways. Answers that show the value changing under the read (a torn copy, a
/// slot that now holds another key) count toward a number of attempts: past it the key is being rewritten faster
/// than it can be read. Failures and refusals (a connection lost or refused, a node fenced for a moment, a
/// secondary that cannot vouch for its copy now) are bounded by time, the promotion wait that writes get: a
/// brief fence or a reconnect refused under a flood of connections is a stall of the read, not its error, however
/// many quick refusals it takes.
/// </summary>
internal struct ReadRetries(TimeSpan promotionWait)
{
    private long _failingSince;
    private int _torn;
    private int _stale;
    private int _failed;
    private string _lastFailure = "";

    /// <summary>Answers counted so far.</summary>
    public int Attempts { get; private set; }

    /// <summary>Failures in a row since the last answer.</summary>
    public int Failures { get; private set; }

    public void Answered(bool torn)
    {
        Attempts++;
        Failures = 0;
        _failingSince = 0;
        if (torn)
        {
            _torn++;
        }
        else
        {
            _stale++;
        }
    }

    public void Failed(string reason)
    {
        if (Failures++ == 0)
        {
            _failingSince = Stopwatch.GetTimestamp();
        }

        _failed++;
        _lastFailure = reason;
    }

    /// <summary>
    /// Before each try: at once unless it follows two or more failures in a row (a first failure is retried at once:
    /// the other node serves after a failover); after those it gives up once they have lasted the promotion wait,
    /// else waits a little, longer with each.
    /// </summary>
    public readonly ValueTask BackOffAsync(CancellationToken cancellationToken)
    {
        if (Failures < 2)
        {
            return ValueTask.CompletedTask;
        }

        if (Stopwatch.GetElapsedTime(_failingSince) >= promotionWait)
        {
            throw MirrorKvException.Unavailable($"no node served the read{MirrorKvClientOptions.WithinPromotionWait(promotionWait)} ({Failures} failures in a row; last: {_lastFailure})");
        }

        return new ValueTask(Task.Delay(Math.Min(2 * Failures, 50), cancellationToken));
    }

    /// <summary>What the attempts met, for the error of a read that ran out of them.</summary>
    public readonly string Describe() =>
        $"{_torn} torn, {_stale} stale or moved{(_failed > 0 ? $", {_failed} failed or refused, last: {_lastFailure}" : "")}";
}
