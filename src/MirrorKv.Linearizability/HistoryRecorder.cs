namespace MirrorKv.Linearizability;

/// <summary>
/// Records invoke and complete events of operations on keys, from any number of threads, on one real-time
/// order: a counter taken at each event, so that an operation that completed before another was invoked has
/// the smaller position, whichever threads ran them.
/// </summary>
/// <remarks>
/// A test or a chaos run calls <see cref="Invoke"/> just before it sends an operation and <see cref="Complete"/>
/// as soon as it has the answer; anything it does in between only widens the operation's interval, which makes
/// the check more permissive, never wrong. Not for a hot path: one lock per event.
/// </remarks>
public sealed class HistoryRecorder
{
    private readonly Lock _lock = new();
    private readonly List<Operation> _operations = [];
    private long _clock;

    /// <summary>Operations recorded so far.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _operations.Count;
            }
        }
    }

    /// <summary>Records the invocation of a write of <paramref name="value"/> (null: a delete); returns its id.</summary>
    public long InvokeWrite(string key, long? value) => Invoke(key, OperationKind.Write, value);

    /// <summary>Records the invocation of a read; returns its id.</summary>
    public long InvokeRead(string key) => Invoke(key, OperationKind.Read, null);

    /// <summary>Records that operation <paramref name="id"/> ended; <paramref name="readValue"/> is what a read returned.</summary>
    public void Complete(long id, Outcome outcome, long? readValue = null)
    {
        if (outcome == Outcome.Pending)
        {
            throw new ArgumentException("An operation completes with Ok, Fail or Unknown.", nameof(outcome));
        }

        lock (_lock)
        {
            long now = ++_clock;
            Operation op = _operations[(int)id];
            if (op.Outcome != Outcome.Pending)
            {
                throw new InvalidOperationException($"Operation {id} completed twice.");
            }

            _operations[(int)id] = op with
            {
                Outcome = outcome,
                Value = op.Kind == OperationKind.Read ? readValue : op.Value,
                Completed = outcome == Outcome.Ok ? now : long.MaxValue,
            };
        }
    }

    /// <summary>
    /// The history so far. An operation still pending is reported <see cref="Outcome.Unknown"/>: it may yet take
    /// effect.
    /// </summary>
    public Operation[] Snapshot()
    {
        lock (_lock)
        {
            var copy = new Operation[_operations.Count];
            for (int i = 0; i < copy.Length; i++)
            {
                Operation op = _operations[i];
                copy[i] = op.Outcome == Outcome.Pending ? op with { Outcome = Outcome.Unknown } : op;
            }

            return copy;
        }
    }

    private long Invoke(string key, OperationKind kind, long? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_lock)
        {
            long id = _operations.Count;
            _operations.Add(new Operation(id, key, kind, value, Outcome.Pending, ++_clock, long.MaxValue));
            return id;
        }
    }
}
