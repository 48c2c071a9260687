using CsCheck;
using MirrorKv.Linearizability;

namespace MirrorKv.Linearizability.Tests;

/// <summary>Builders of histories by hand and generators of histories that are linearizable by construction.</summary>
internal static class Histories
{
    public static Operation W(long id, long? value, long invoked, long completed, string key = "k") =>
        new(id, key, OperationKind.Write, value, Outcome.Ok, invoked, completed);

    public static Operation R(long id, long? value, long invoked, long completed, string key = "k") =>
        new(id, key, OperationKind.Read, value, Outcome.Ok, invoked, completed);

    public static Operation WUnknown(long id, long? value, long invoked, string key = "k") =>
        new(id, key, OperationKind.Write, value, Outcome.Unknown, invoked, long.MaxValue);

    /// <summary>One operation at a time: each completes before the next is invoked. Reads return the register's value.</summary>
    public static Gen<Operation[]> Sequential { get; } =
        Gen.Select(Gen.Bool, Gen.Long[0, 5]).Array[1, 60].Select(steps =>
        {
            var ops = new Operation[steps.Length];
            long? state = null;
            for (int i = 0; i < steps.Length; i++)
            {
                (bool write, long value) = steps[i];
                long? v = value == 0 ? null : value;
                if (write)
                {
                    state = v;
                    ops[i] = W(i, v, 2 * i, (2 * i) + 1);
                }
                else
                {
                    ops[i] = R(i, state, 2 * i, (2 * i) + 1);
                }
            }

            return ops;
        });

    /// <summary>
    /// Several processes, one operation in flight each, overlapping: a seeded schedule picks a process per tick,
    /// which invokes, takes effect (the linearization point: a write sets the register, a read takes its value) or
    /// completes. Some writes never complete (Unknown), having taken effect or not.
    /// </summary>
    public static Gen<Operation[]> Concurrent { get; } = BuildConcurrent(uniqueValues: false);

    /// <summary>As <see cref="Concurrent"/>, each write with a value of its own, as the chaos run writes them.</summary>
    public static Gen<Operation[]> ConcurrentUnique { get; } = BuildConcurrent(uniqueValues: true);

    private static Gen<Operation[]> BuildConcurrent(bool uniqueValues) =>
        Gen.Select(Gen.Int[1, 4], Gen.Int[0, 3].Array[20, 200], Gen.Int[0, 99].Array[200], Gen.Long[1, 6].Array[200]).Select((processes, schedule, dice, values) =>
        {
            var ops = new List<Operation>();
            var inFlight = new (int Op, bool Applied, bool Lost)?[processes];
            long? state = null;
            long time = 0;
            int d = 0;
            foreach (int pick in schedule)
            {
                int p = pick % processes;
                time++;
                if (inFlight[p] is not { } flight)
                {
                    bool write = dice[d++ % dice.Length] < 50;
                    long? v = uniqueValues ? ops.Count + 1 : values[ops.Count % values.Length] == 6 ? null : values[ops.Count % values.Length];
                    ops.Add(new Operation(ops.Count, "k", write ? OperationKind.Write : OperationKind.Read, write ? v : null, Outcome.Pending, time, long.MaxValue));
                    inFlight[p] = (ops.Count - 1, false, false);
                }
                else if (!flight.Applied)
                {
                    Operation op = ops[flight.Op];
                    bool lost = op.Kind == OperationKind.Write && dice[d++ % dice.Length] < 10;
                    if (!lost)
                    {
                        if (op.Kind == OperationKind.Write)
                        {
                            state = op.Value;
                        }
                        else
                        {
                            ops[flight.Op] = op with { Value = state };
                        }
                    }

                    inFlight[p] = (flight.Op, true, lost);
                }
                else
                {
                    // A write that may not have taken effect never completes: its caller saw a timeout. One that
                    // did not take effect must be one of those.
                    Operation op = ops[flight.Op];
                    bool timedOut = flight.Lost || (op.Kind == OperationKind.Write && dice[d++ % dice.Length] < 15);
                    ops[flight.Op] = timedOut ? op with { Outcome = Outcome.Unknown } : op with { Outcome = Outcome.Ok, Completed = time };
                    inFlight[p] = null;
                }
            }

            // What is still in flight is unknown: a read of it says nothing, a write may have happened.
            for (int i = 0; i < ops.Count; i++)
            {
                if (ops[i].Outcome == Outcome.Pending)
                {
                    ops[i] = ops[i] with { Outcome = Outcome.Unknown };
                }
            }

            return ops.ToArray();
        });
}
