using System.Diagnostics;
using System.Net;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Cli.Chaos;

/// <summary>
/// Asks both nodes for STATUS about every 20 ms for the whole run, at their own sockets (past any relay), and
/// counts the samples in which both say they are a serving primary: role primary with a lease left. It also
/// tells the runner when the pair is protected again and which node is primary then.
/// </summary>
/// <remarks>
/// The two requests of a sample go out together and a node that does not answer within
/// <see cref="AnswerTimeout"/> (a paused one) counts as not serving, so the two answers of a sample lie less
/// than that apart, while a fenced primary's lease ends half a second before its secondary may promote
/// (docs/failover.md). That margin does not cover a death between the two answers: a primary killed right
/// after it answered, and its secondary promoted at once on the reset, answering a moment later. So a
/// sample with two primaries is confirmed at once by asking both again; only a confirmed one counts (a dead
/// node does not answer twice), and the unconfirmed ones are counted apart.
/// </remarks>
internal sealed class PairWatch : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromMilliseconds(250);

    private readonly IPEndPoint[] _nodes;
    private readonly byte[]? _secret;
    private readonly Action<string> _say;
    private readonly TcpTransport _transport = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _polling;
    private readonly Lock _lock = new();
    private Sample _latest = new(0, null, null);
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _samples;
    private long _twoPrimaries;
    private long _unconfirmed;

    /// <param name="nodes">The two nodes' own endpoints; a restarted node keeps its endpoint.</param>
    /// <param name="secret">The pair's client secret, if it has one.</param>
    /// <param name="say">Where a two-primary sample is reported (once per run of such samples).</param>
    public PairWatch(IReadOnlyList<IPEndPoint> nodes, byte[]? secret, Action<string> say)
    {
        _nodes = [nodes[0], nodes[1]];
        _secret = secret;
        _say = say;
        _polling = Task.Run(PollAsync);
    }

    /// <summary>Samples taken so far.</summary>
    public long Samples => Interlocked.Read(ref _samples);

    /// <summary>Samples in which both nodes reported role primary with a lease left, confirmed by a second sample at once.</summary>
    public long TwoPrimarySamples => Interlocked.Read(ref _twoPrimaries);

    /// <summary>Samples with two primaries that the second sample did not confirm.</summary>
    public long UnconfirmedTwoPrimarySamples => Interlocked.Read(ref _unconfirmed);

    /// <summary>
    /// Waits for a sample sent after <paramref name="after"/> (a Stopwatch timestamp) in which one node is a
    /// protected primary and the other a protected secondary. Gives the primary's index (as in the list given
    /// at construction), when the sample was sent and the primary's epoch, or null after <paramref name="timeout"/>.
    /// </summary>
    public async Task<(int Primary, long At, ulong Epoch)?> WaitProtectedAsync(long after, TimeSpan timeout, CancellationToken cancellationToken)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            Task next;
            Sample sample;
            lock (_lock)
            {
                sample = _latest;
                next = _next.Task;
            }

            if (sample.SentAt > after && ProtectedPrimary(sample) is int primary)
            {
                return (primary, sample.SentAt, (primary == 0 ? sample.A : sample.B)!.Epoch);
            }

            TimeSpan left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero)
            {
                return null;
            }

            try
            {
                await next.WaitAsync(left, cancellationToken);
            }
            catch (TimeoutException)
            {
                return null;
            }
        }
    }

    /// <summary>The primary's index and epoch in the latest sample, if it shows a protected pair; else null.</summary>
    public (int Primary, ulong Epoch)? ProtectedNow()
    {
        Sample sample;
        lock (_lock)
        {
            sample = _latest;
        }

        return ProtectedPrimary(sample) is int primary ? (primary, (primary == 0 ? sample.A : sample.B)!.Epoch) : null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _polling.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private static int? ProtectedPrimary(Sample s) => (s.A, s.B) switch
    {
        ({ Role: NodeRole.Primary, Protected: true }, { Role: NodeRole.Secondary, Protected: true }) => 0,
        ({ Role: NodeRole.Secondary, Protected: true }, { Role: NodeRole.Primary, Protected: true }) => 1,
        _ => null,
    };

    private static bool Serving(NodeStatus? s) => s is { Role: NodeRole.Primary } && s.LeaseRemaining > TimeSpan.Zero;

    private async Task PollAsync()
    {
        CancellationToken stop = _stop.Token;
        bool inTwoPrimaries = false;
        while (!stop.IsCancellationRequested)
        {
            long sentAt = Stopwatch.GetTimestamp();
            Sample sample = await SampleAsync(sentAt, stop);
            Interlocked.Increment(ref _samples);
            bool two = Serving(sample.A) && Serving(sample.B);
            if (two)
            {
                Sample again = await SampleAsync(Stopwatch.GetTimestamp(), stop);
                two = Serving(again.A) && Serving(again.B);
                Interlocked.Increment(ref two ? ref _twoPrimaries : ref _unconfirmed);
                if (two && !inTwoPrimaries)
                {
                    _say($"TWO PRIMARIES: {_nodes[0]} says {Describe(sample.A!)}, then {Describe(again.A!)}; {_nodes[1]} says {Describe(sample.B!)}, then {Describe(again.B!)}");
                }
            }

            inTwoPrimaries = two;
            TaskCompletionSource woken;
            lock (_lock)
            {
                _latest = sample;
                woken = _next;
                _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            woken.TrySetResult();
            TimeSpan rest = Interval - Stopwatch.GetElapsedTime(sentAt);
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task<Sample> SampleAsync(long sentAt, CancellationToken stop)
    {
        Task<NodeStatus?> a = AskAsync(_nodes[0], stop), b = AskAsync(_nodes[1], stop);
        return new Sample(sentAt, await a, await b);
    }

    private async Task<NodeStatus?> AskAsync(IPEndPoint node, CancellationToken stop)
    {
        try
        {
            return await MirrorKvAdmin.GetStatusAsync(node, _transport, AnswerTimeout, _secret, stop);
        }
        catch (Exception)
        {
            // Whatever went wrong (refused, reset, timed out, a node between incarnations), it did not answer.
            return null;
        }
    }

    private static string Describe(NodeStatus s) =>
        $"{s.Role.ToString().ToLowerInvariant()} epoch {s.Epoch}, lease {(s.LeaseRemaining == TimeSpan.MaxValue ? "unlimited" : $"{s.LeaseRemaining.TotalMilliseconds:F0} ms")}";

    private sealed record Sample(long SentAt, NodeStatus? A, NodeStatus? B);
}
