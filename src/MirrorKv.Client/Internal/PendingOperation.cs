using System.Threading.Tasks.Sources;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// One outstanding work request and its completion: a pooled, reusable awaitable (no allocation per
/// operation) with a buffer that receives the reply's payload. The caller reads <see cref="Payload"/>
/// after awaiting and then returns the operation to its channel.
/// </summary>
internal sealed class PendingOperation(int index) : IValueTaskSource<int>
{
    // The state word holds the generation too, so that a late reply for an earlier use of this operation
    // can never complete the current one: (generation << 8) | phase.
    private const long Free = 0;
    private const long InFlight = 1;
    private const long Done = 2;

    // Continuations run on the thread pool: user code after an await must never stall a receive loop.
    private ManualResetValueTaskSourceCore<int> _core = new() { RunContinuationsAsynchronously = true };
    private byte[] _buffer = new byte[512];
    private long _state;

    public int Index { get; } = index;

    public uint Generation { get; private set; }

    public ulong RequestId => ((ulong)Generation << 32) | (uint)Index;

    public long DeadlineTimestamp { get; private set; }

    public WireStatus Status { get; private set; }

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Payload => _buffer.AsSpan(0, Length);

    public bool IsInFlight => (Volatile.Read(ref _state) & 0xFF) == InFlight;

    public void Start(long deadlineTimestamp)
    {
        _core.Reset();
        Generation++;
        Status = WireStatus.Ok;
        Length = 0;
        DeadlineTimestamp = deadlineTimestamp;
        Volatile.Write(ref _state, ((long)Generation << 8) | InFlight);
    }

    public ValueTask<int> AsValueTask() => new(this, _core.Version);

    /// <summary>Delivers the reply; false when the operation already completed (timed out) or is another generation's.</summary>
    public bool TryComplete(uint generation, WireStatus status, ReadOnlySpan<byte> payload)
    {
        long inFlight = ((long)generation << 8) | InFlight;
        if (Interlocked.CompareExchange(ref _state, ((long)generation << 8) | Done, inFlight) != inFlight)
        {
            return false;
        }

        if (_buffer.Length < payload.Length)
        {
            _buffer = new byte[Math.Max(payload.Length, _buffer.Length * 2)];
        }

        payload.CopyTo(_buffer);
        Length = payload.Length;
        Status = status;
        _core.SetResult(payload.Length);
        return true;
    }

    public bool TryFail(Exception error)
    {
        long current = Volatile.Read(ref _state);
        if ((current & 0xFF) != InFlight || Interlocked.CompareExchange(ref _state, (current & ~0xFFL) | Done, current) != current)
        {
            return false;
        }

        _core.SetException(error);
        return true;
    }

    public void Release() => Volatile.Write(ref _state, ((long)Generation << 8) | Free);

    int IValueTaskSource<int>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
