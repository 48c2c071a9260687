namespace MirrorKv.Linearizability;

/// <summary>
/// Decides whether the history of one register (one key) is linearizable: whether each operation can be given
/// a point between its invocation and its completion such that, in the order of those points, every read returns
/// the value of the latest write before it (or the initial value).
/// </summary>
/// <remarks>
/// <para>The search of Wing and Gong with Lowe's memo, as Knossos and Porcupine run it. Call and return events sit
/// on one list in real-time order. From the front, any call that comes before the first return is a candidate
/// for the next linearization point (its operation was running while everything linearized so far was); a
/// candidate that the register accepts is taken off the list (call and return), and the search goes on from the
/// front. Meeting a return means the operation it closes should have been linearized by now: the search backs up
/// to its last choice and tries the next candidate. The list empty means every operation found its point.</para>
/// <para>Lowe's memo: two paths that linearized the same set of operations and left the register in the same state
/// have the same future, so a (set, state) pair met before is not searched again. That bounds the search by the
/// number of such pairs instead of the number of orders.</para>
/// <para>A write that may or may not have taken effect (<see cref="Outcome.Unknown"/>) gets its return at the end of
/// time, so it is free to take effect anywhere after its call; linearized last it changes nothing any read saw,
/// which is how "not at all" is covered. Failed operations and reads without an answer are dropped.</para>
/// </remarks>
public static class RegisterChecker
{
    /// <summary>Steps of the search after which <see cref="Check"/> gives up (a pathological history).</summary>
    public const long DefaultStepBudget = 50_000_000;

    /// <summary>
    /// Memo entries after which <see cref="Check"/> gives up as it does past its step budget (a CI run's random
    /// history of about 1,000 operations once grew the memo to 24 GB before the kernel killed the test process).
    /// An entry is a fingerprint of the linearized set and the register's value: 2 million is about 100 MB.
    /// </summary>
    public const int DefaultMemoBudget = 2_000_000;

    /// <summary>Checks the operations of one key, which start from <paramref name="initial"/> (null: absent).</summary>
    /// <returns>True or false; null when the search ran out of <paramref name="stepBudget"/> or of <paramref name="memoBudget"/>.</returns>
    public static bool? Check(IReadOnlyList<Operation> operations, long? initial = null, long stepBudget = DefaultStepBudget, int memoBudget = DefaultMemoBudget)
    {
        ArgumentNullException.ThrowIfNull(operations);
        List<Operation> ops = Relevant(operations);
        if (ops.Count == 0)
        {
            return true;
        }

        Entry head = BuildList(ops);
        var linearized = new OperationSet(ops.Count);
        var memo = new HashSet<(UInt128, Register)>();
        var stack = new Stack<(Entry Call, Register Before)>();
        var state = new Register(initial);
        Entry? entry = head.Next;
        long steps = 0;
        while (head.Next is not null)
        {
            if (++steps > stepBudget)
            {
                return null;
            }

            if (entry!.IsCall)
            {
                Operation op = ops[entry.Op];
                if (state.TryApply(op, out Register after))
                {
                    linearized.Add(entry.Op);
                    if (memo.Count >= memoBudget)
                    {
                        return null;
                    }

                    if (memo.Add((linearized.Fingerprint, after)))
                    {
                        stack.Push((entry, state));
                        state = after;
                        Lift(entry);
                        entry = head.Next;
                        continue;
                    }

                    linearized.Remove(entry.Op);
                }

                entry = entry.Next;
                continue;
            }

            // A return: the operation it closes had to be linearized by now. Undo the last choice, try the next.
            if (stack.Count == 0)
            {
                return false;
            }

            (Entry call, Register before) = stack.Pop();
            state = before;
            linearized.Remove(call.Op);
            Unlift(call);
            entry = call.Next;
        }

        return true;
    }

    // Reads without an answer constrain nothing, and failed operations had no effect. A write that may or may not
    // have happened and whose value no read returned is dropped too: linearized anywhere but last it would have to
    // be followed by another write before any read (a read would return its value), so it changes nothing; and
    // last is always possible. Without this, each such write doubles the sets the search may meet.
    private static List<Operation> Relevant(IReadOnlyList<Operation> operations)
    {
        var seen = new HashSet<long?>();
        foreach (Operation op in operations)
        {
            if (op.Kind == OperationKind.Read && op.Outcome == Outcome.Ok)
            {
                seen.Add(op.Value);
            }
        }

        var ops = new List<Operation>(operations.Count);
        foreach (Operation op in operations)
        {
            bool answered = op.Outcome == Outcome.Ok;
            bool mayHaveWritten = op.Kind == OperationKind.Write && op.Outcome is Outcome.Unknown or Outcome.Pending && seen.Contains(op.Value);
            if (answered || mayHaveWritten)
            {
                ops.Add(answered ? op : op with { Completed = long.MaxValue });
            }
        }

        return ops;
    }

    private static Entry BuildList(List<Operation> ops)
    {
        var events = new List<Entry>(ops.Count * 2);
        for (int i = 0; i < ops.Count; i++)
        {
            var call = new Entry(i, isCall: true, ops[i].Invoked);
            var ret = new Entry(i, isCall: false, ops[i].Completed);
            call.Match = ret;
            events.Add(call);
            events.Add(ret);
        }

        // At equal times calls go first: the two operations are then taken as concurrent, the permissive reading.
        events.Sort(static (a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : b.IsCall.CompareTo(a.IsCall));
        var head = new Entry(-1, isCall: false, long.MinValue);
        Entry last = head;
        foreach (Entry e in events)
        {
            last.Next = e;
            e.Prev = last;
            last = e;
        }

        return head;
    }

    // Takes a call and its return off the list; the return always comes after the call, so the call has a next.
    private static void Lift(Entry call)
    {
        call.Prev!.Next = call.Next;
        call.Next!.Prev = call.Prev;
        Entry ret = call.Match!;
        ret.Prev!.Next = ret.Next;
        if (ret.Next is not null)
        {
            ret.Next.Prev = ret.Prev;
        }
    }

    // Puts them back, the return first: the exact reverse of Lift, so the neighbours' links are those Lift saw.
    private static void Unlift(Entry call)
    {
        Entry ret = call.Match!;
        ret.Prev!.Next = ret;
        if (ret.Next is not null)
        {
            ret.Next.Prev = ret;
        }

        call.Prev!.Next = call;
        call.Next!.Prev = call;
    }

    private sealed class Entry(int op, bool isCall, long time)
    {
        public int Op { get; } = op;

        public bool IsCall { get; } = isCall;

        public long Time { get; } = time;

        public Entry? Match { get; set; }

        public Entry? Prev { get; set; }

        public Entry? Next { get; set; }
    }

    private readonly record struct Register(long? Value)
    {
        public bool TryApply(in Operation op, out Register after)
        {
            after = op.Kind == OperationKind.Write ? new Register(op.Value) : this;
            return op.Kind == OperationKind.Write || op.Value == Value;
        }
    }
}
