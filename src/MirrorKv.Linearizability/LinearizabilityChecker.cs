namespace MirrorKv.Linearizability;

/// <summary>
/// Checks a history of operations on many keys: each key is a register of its own (linearizability is local:
/// the whole history is linearizable when every key's is), checked by <see cref="RegisterChecker"/>.
/// </summary>
public static class LinearizabilityChecker
{
    /// <summary>Checks every key; the first violation in key order is minimized.</summary>
    /// <param name="history">The operations, any order.</param>
    /// <param name="initial">A key's value before the history (null: absent); null for every key when omitted.</param>
    /// <param name="stepBudget">Per key, see <see cref="RegisterChecker.DefaultStepBudget"/>.</param>
    public static CheckReport Check(IEnumerable<Operation> history, Func<string, long?>? initial = null, long stepBudget = RegisterChecker.DefaultStepBudget)
    {
        ArgumentNullException.ThrowIfNull(history);
        var byKey = new SortedDictionary<string, List<Operation>>(StringComparer.Ordinal);
        long count = 0;
        foreach (Operation op in history)
        {
            if (!byKey.TryGetValue(op.Key, out List<Operation>? ops))
            {
                byKey[op.Key] = ops = [];
            }

            ops.Add(op);
            count++;
        }

        int violations = 0, undecided = 0;
        Violation? first = null;
        foreach ((string key, List<Operation> ops) in byKey)
        {
            long? start = initial?.Invoke(key);
            switch (RegisterChecker.Check(ops, start, stepBudget))
            {
                case false:
                    violations++;
                    first ??= new Violation(key, ops.Count, Minimize(ops, start, stepBudget));
                    break;
                case null:
                    undecided++;
                    break;
            }
        }

        return new CheckReport(byKey.Count, count, violations, undecided, first);
    }

    // A sub-history kept for the report must keep the write of every value its reads returned: "a read of a value
    // nobody wrote" is not linearizable either, but it is not the anomaly a reader of the report is after.
    private static bool Explained(List<Operation> ops, long? initial)
    {
        foreach (Operation read in ops)
        {
            if (read.Kind != OperationKind.Read || read.Outcome != Outcome.Ok || read.Value == initial)
            {
                continue;
            }

            bool written = false;
            foreach (Operation write in ops)
            {
                written |= write.Kind == OperationKind.Write && write.Outcome != Outcome.Fail && write.Value == read.Value;
            }

            if (!written)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Shrinks a non-linearizable history of one key: first to the shortest prefix (in invocation order) that is
    /// still not linearizable, then by dropping one operation at a time while it stays so. Every read it keeps keeps a
    /// write of the value it returned, unless the history itself has none.
    /// </summary>
    public static IReadOnlyList<Operation> Minimize(IReadOnlyList<Operation> operations, long? initial = null, long stepBudget = RegisterChecker.DefaultStepBudget)
    {
        ArgumentNullException.ThrowIfNull(operations);
        var ops = new List<Operation>(operations);
        ops.Sort(static (a, b) => a.Invoked.CompareTo(b.Invoked));
        if (RegisterChecker.Check(ops, initial, stepBudget) != false)
        {
            return ops;
        }

        bool explained = Explained(ops, initial);
        bool Fails(List<Operation> candidate) => (!explained || Explained(candidate, initial)) && RegisterChecker.Check(candidate, initial, stepBudget) == false;

        // Adding operations can make a history linearizable again (a write that explains a read), so the shortest
        // failing prefix is searched from the front, doubling, then bisected; the result is checked either way.
        int high = 1;
        while (high < ops.Count && !Fails(ops.GetRange(0, high)))
        {
            high *= 2;
        }

        high = Math.Min(high, ops.Count);
        int low = high / 2;
        while (low + 1 < high)
        {
            int mid = (low + high) / 2;
            if (Fails(ops.GetRange(0, mid)))
            {
                high = mid;
            }
            else
            {
                low = mid;
            }
        }

        List<Operation> current = ops.GetRange(0, high);
        if (!Fails(current))
        {
            current = ops;
        }

        // One-minimal: try without each operation, latest first (the anomaly is usually at the end of the prefix).
        const int MaxAttempts = 2_000;
        int attempts = 0;
        bool shrunk = true;
        while (shrunk && attempts < MaxAttempts)
        {
            shrunk = false;
            for (int i = current.Count - 1; i >= 0 && attempts < MaxAttempts; i--)
            {
                attempts++;
                var without = new List<Operation>(current);
                without.RemoveAt(i);
                if (Fails(without))
                {
                    current = without;
                    shrunk = true;
                }
            }
        }

        return current;
    }
}
