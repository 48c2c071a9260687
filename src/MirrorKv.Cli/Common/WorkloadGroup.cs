namespace MirrorKv.Cli;

/// <summary>
/// A named group of a <see cref="Workload"/>'s keys (for one, the keys a pair of a cluster owns), with its own counts
/// and gaps, so that a fault in one group shows whether the others noticed it.
/// </summary>
internal sealed class WorkloadGroup(string name)
{
    private long _reads, _writes, _failedReads, _failedWrites, _badReads;

    public string Name => name;

    public long Reads => Interlocked.Read(ref _reads);

    public long Writes => Interlocked.Read(ref _writes);

    public long FailedReads => Interlocked.Read(ref _failedReads);

    public long FailedWrites => Interlocked.Read(ref _failedWrites);

    public long BadReads => Interlocked.Read(ref _badReads);

    public CompletionGaps ReadGaps { get; } = new();

    public CompletionGaps WriteGaps { get; } = new();

    /// <summary>A read returned a value: a good one (its gap counts) or a bad one.</summary>
    public void ReadDone(bool good, long mark)
    {
        Interlocked.Increment(ref _reads);
        if (good)
        {
            ReadGaps.Completed(mark);
        }
        else
        {
            Interlocked.Increment(ref _badReads);
        }
    }

    public void ReadFailed() => Interlocked.Increment(ref _failedReads);

    public void WriteAcknowledged(long mark)
    {
        Interlocked.Increment(ref _writes);
        WriteGaps.Completed(mark);
    }

    public void WriteFailed() => Interlocked.Increment(ref _failedWrites);
}
