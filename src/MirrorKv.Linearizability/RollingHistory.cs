namespace MirrorKv.Linearizability;

/// <summary>
/// A history recorder for long runs (the chaos run): it keeps only the operations of the current window and
/// checks each key's window as the window closes (<see cref="CheckWindow"/>), so that memory is bounded by one
/// window's operations, not by the run's.
/// </summary>
/// <remarks>
/// <para>A window of a key starts from a state the previous windows decided, and that state is not one value when
/// operations were running across the cut. The window's history is therefore made so that every linearization of
/// the whole history gives one of the window (the check never reports a violation the whole history does not
/// have; it may miss one that only shows across windows):</para>
/// <list type="bullet">
/// <item>the initial value is the value of the key's last write that completed Ok before the earliest invocation
/// among the key's operations still running at the cut (before the cut when none runs). Writes of one key are
/// expected from one writer at a time, as the chaos workload's are: then that write is linearized before every
/// operation of the later window;</item>
/// <item>every write of the key that completed Ok after that earliest invocation is carried into the later window
/// with its own invocation and completion: an operation running across the cut may have seen any of them, not
/// only the last (a read invoked before two writes and answered between them returns the first, after the cut);</item>
/// <item>every operation still running at the cut is in both windows: in the earlier one as Unknown, in the later
/// one with its own invocation and completion;</item>
/// <item>every write that ended Unknown stays in every later window of its key, with its own invocation: it may
/// have taken effect after the last Ok write, before the cut, or later.</item>
/// </list>
/// </remarks>
public sealed class RollingHistory(Func<string, long?>? initial = null, long stepBudget = RegisterChecker.DefaultStepBudget)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<long, Operation> _running = [];
    private readonly Dictionary<string, KeyState> _keys = new(StringComparer.Ordinal);
    private List<Operation> _completed = [];
    private long _clock;
    private long _nextId;

    /// <summary>Key windows checked so far (one history each).</summary>
    public long Histories { get; private set; }

    /// <summary>Operations checked so far, each counted once (in the window it completed in).</summary>
    public long Operations { get; private set; }

    /// <summary>Key windows that are not linearizable.</summary>
    public int Violations { get; private set; }

    /// <summary>Key windows whose search ran out of its step budget.</summary>
    public int Undecided { get; private set; }

    /// <summary>The first violating key window, minimized; null while there is none.</summary>
    public Violation? FirstViolation { get; private set; }

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
            if (!_running.Remove(id, out Operation op))
            {
                throw new InvalidOperationException($"Operation {id} is not running.");
            }

            _completed.Add(op with
            {
                Outcome = outcome,
                Value = op.Kind == OperationKind.Read ? readValue : op.Value,
                Completed = outcome == Outcome.Ok ? ++_clock : long.MaxValue,
            });
        }
    }

    /// <summary>
    /// Closes the window (from one thread at a time; recording goes on meanwhile): checks every key that has operations in it (see the remarks for what a window holds),
    /// adds to the totals, and starts the next window. Returns this window's report.
    /// </summary>
    public CheckReport CheckWindow()
    {
        List<Operation> completed;
        Operation[] running;
        lock (_lock)
        {
            completed = _completed;
            _completed = [];
            running = [.. _running.Values];
        }

        // The window's operations by key: completed ones, then running ones as Unknown; the carried unknown writes
        // are added per key below.
        var byKey = new Dictionary<string, List<Operation>>(StringComparer.Ordinal);
        foreach (Operation op in completed)
        {
            Of(byKey, op.Key).Add(op);
        }

        var runningIds = new HashSet<long>(running.Length);
        foreach (Operation op in running)
        {
            Of(byKey, op.Key).Add(op with { Outcome = Outcome.Unknown });
            runningIds.Add(op.Id);
        }

        int violations = 0, undecided = 0;
        Violation? first = null;
        foreach ((string key, List<Operation> ops) in byKey)
        {
            if (!_keys.TryGetValue(key, out KeyState? state))
            {
                _keys[key] = state = new KeyState(initial?.Invoke(key));
            }

            var window = new List<Operation>(ops.Count + state.UnknownWrites.Count + state.CarriedWrites.Count);
            window.AddRange(ops);
            window.AddRange(state.UnknownWrites);
            window.AddRange(state.CarriedWrites);
            switch (RegisterChecker.Check(window, state.Initial, stepBudget))
            {
                case false:
                    violations++;
                    first ??= new Violation(key, window.Count, LinearizabilityChecker.Minimize(window, state.Initial, stepBudget));
                    break;
                case null:
                    undecided++;
                    break;
            }

            // The next window starts from the last Ok write no running operation of the key overlaps, carries the
            // Ok writes after it, and carries this window's unknown writes.
            long earliestRunning = long.MaxValue;
            foreach (Operation op in running)
            {
                if (op.Key == key)
                {
                    earliestRunning = Math.Min(earliestRunning, op.Invoked);
                }
            }

            foreach (Operation op in ops)
            {
                if (op.Kind == OperationKind.Write && op.Outcome == Outcome.Ok)
                {
                    state.CarriedWrites.Add(op);
                }
                else if (op.Kind == OperationKind.Write && op.Outcome == Outcome.Unknown && !runningIds.Contains(op.Id))
                {
                    state.UnknownWrites.Add(op);
                }
            }

            state.Advance(earliestRunning);
        }

        Histories += byKey.Count;
        Operations += completed.Count;
        Violations += violations;
        Undecided += undecided;
        FirstViolation ??= first;
        return new CheckReport(byKey.Count, completed.Count, violations, undecided, first);
    }

    /// <summary>The totals so far, as one report.</summary>
    public CheckReport Totals => new((int)Math.Min(Histories, int.MaxValue), Operations, Violations, Undecided, FirstViolation);

    private static List<Operation> Of(Dictionary<string, List<Operation>> byKey, string key)
    {
        if (!byKey.TryGetValue(key, out List<Operation>? ops))
        {
            byKey[key] = ops = [];
        }

        return ops;
    }

    private long Invoke(string key, OperationKind kind, long? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_lock)
        {
            long id = _nextId++;
            _running.Add(id, new Operation(id, key, kind, value, Outcome.Pending, ++_clock, long.MaxValue));
            return id;
        }
    }

    // A key's state between windows.
    private sealed class KeyState(long? initial)
    {
        public long? Initial { get; set; } = initial;

        public List<Operation> UnknownWrites { get; } = [];

        // Ok writes completed after the earliest invocation of an operation running at the last cut, by completion.
        public List<Operation> CarriedWrites { get; } = [];

        // The writes completed before `earliestRunning` leave the carried list; the last of them is the new initial value.
        public void Advance(long earliestRunning)
        {
            CarriedWrites.Sort(static (a, b) => a.Completed.CompareTo(b.Completed));
            int before = 0;
            while (before < CarriedWrites.Count && CarriedWrites[before].Completed < earliestRunning)
            {
                before++;
            }

            if (before > 0)
            {
                Initial = CarriedWrites[before - 1].Value;
                CarriedWrites.RemoveRange(0, before);
            }
        }
    }
}
