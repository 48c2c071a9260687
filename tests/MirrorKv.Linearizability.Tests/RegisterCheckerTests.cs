using CsCheck;
using MirrorKv.Linearizability;
using static MirrorKv.Linearizability.Tests.Histories;

namespace MirrorKv.Linearizability.Tests;

/// <summary>The checker on histories whose answer is known: by hand, and generated linearizable or broken.</summary>
public class RegisterCheckerTests
{
    [Fact]
    public void Check_SequentialWritesAndReads_IsLinearizable() =>
        Assert.True(RegisterChecker.Check([W(0, 1, 1, 2), R(1, 1, 3, 4), W(2, 2, 5, 6), R(3, 2, 7, 8)]));

    [Fact]
    public void Check_StaleReadAfterCompletedWrite_IsNotLinearizable() =>
        Assert.False(RegisterChecker.Check([W(0, 1, 1, 2), W(1, 2, 3, 4), R(2, 1, 5, 6)]));

    [Fact]
    public void Check_ReadOfAValueNeverWritten_IsNotLinearizable() =>
        Assert.False(RegisterChecker.Check([W(0, 1, 1, 2), R(1, 7, 3, 4)]));

    [Fact]
    public void Check_ReadOfAbsentKeyBeforeAnyWrite_IsLinearizable() =>
        Assert.True(RegisterChecker.Check([R(0, null, 1, 2), W(1, 1, 3, 4)]));

    [Theory]
    [InlineData(1L)]
    [InlineData(2L)]
    public void Check_ReadConcurrentWithWrite_MaySeeEitherValue(long seen) =>
        Assert.True(RegisterChecker.Check([W(0, 1, 1, 2), W(1, 2, 3, 6), R(2, seen, 4, 5)]));

    [Fact]
    public void Check_TwoReadsAfterConcurrentWrites_CannotDisagreeOnTheirOrder() =>
        Assert.False(RegisterChecker.Check([W(0, 1, 1, 4), W(1, 2, 2, 3), R(2, 2, 5, 6), R(3, 1, 7, 8)]));

    [Fact]
    public void Check_UnknownWriteSeenByARead_IsLinearizable() =>
        Assert.True(RegisterChecker.Check([W(0, 1, 1, 2), WUnknown(1, 2, 3), R(2, 2, 4, 5), R(3, 2, 6, 7)]));

    [Fact]
    public void Check_UnknownWriteNeverSeen_IsLinearizable() =>
        Assert.True(RegisterChecker.Check([W(0, 1, 1, 2), WUnknown(1, 2, 3), R(2, 1, 4, 5), R(3, 1, 6, 7)]));

    /// <summary>The anomaly of issue 20: a value read during a write that then vanished (read back old after).</summary>
    [Fact]
    public void Check_UnknownWriteSeenThenVanished_IsNotLinearizable() =>
        Assert.False(RegisterChecker.Check([W(0, 1, 1, 2), WUnknown(1, 2, 3), R(2, 2, 4, 5), R(3, 1, 6, 7)]));

    [Fact]
    public void Check_FailedWriteSeenByARead_IsNotLinearizable() =>
        Assert.False(RegisterChecker.Check([W(0, 1, 1, 2), new Operation(1, "k", OperationKind.Write, 2, Outcome.Fail, 3, 4), R(2, 2, 5, 6)]));

    [Fact]
    public void Check_DeleteThenReadOfOldValue_IsNotLinearizable() =>
        Assert.False(RegisterChecker.Check([W(0, 1, 1, 2), W(1, null, 3, 4), R(2, 1, 5, 6)]));

    [Fact]
    public void Check_StartsFromTheGivenInitialValue() =>
        Assert.True(RegisterChecker.Check([R(0, 9, 1, 2)], initial: 9));

    [Fact]
    public void Check_RandomSequentialHistories_AreAlwaysLinearizable() =>
        Sequential.Sample(ops => RegisterChecker.Check(ops) == true, iter: 2_000);

    [Fact]
    public void Check_RandomConcurrentHistoriesBuiltFromLinearizationPoints_AreAlwaysLinearizable() =>
        Concurrent.Sample(ops => RegisterChecker.Check(ops) == true, iter: 2_000);

    /// <summary>After a completed write of a new value, any later read that returns an older value breaks it.</summary>
    [Fact]
    public void Check_SequentialHistoryWithAStaleReadAppended_IsNotLinearizable() =>
        Gen.Select(Sequential, Gen.Long[1, 5]).Sample((ops, stale) =>
        {
            long t = 2L * ops.Length;
            long? last = ops.LastOrDefault(o => o.Kind == OperationKind.Write).Value;
            long fresh = 100 + stale;
            Operation[] broken = [.. ops, W(ops.Length, fresh, t, t + 1), R(ops.Length + 1, last, t + 2, t + 3)];
            return RegisterChecker.Check(broken) == false;
        }, iter: 1_000);

    /// <summary>The memo's bound is a give-up, as the step budget is: inconclusive, never a wrong answer or a blown heap.</summary>
    [Fact]
    public void Check_PastTheMemoBudget_IsInconclusive()
    {
        Operation[] ops = [W(0, 1, 0, 10), W(1, 2, 1, 11), W(2, 3, 2, 12), R(3, 3, 13, 14)];
        Assert.True(RegisterChecker.Check(ops));
        Assert.Null(RegisterChecker.Check(ops, memoBudget: 1));
    }

    /// <summary>
    /// A window as long as a starved checker lets one grow (100,000 operations, one at a time): the memo costs the same
    /// per entry whatever the length. With a copy of the linearized set per entry this allocated about 1.25 GB.
    /// </summary>
    [Fact]
    public void Check_VeryLongHistory_MemoStaysSmall()
    {
        var ops = new Operation[100_000];
        for (int i = 0; i < ops.Length; i++)
        {
            ops[i] = i % 2 == 0 ? W(i, i, 2 * i, (2 * i) + 1) : R(i, i - 1, 2 * i, (2 * i) + 1);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(RegisterChecker.Check(ops));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 100_000_000, $"{GC.GetAllocatedBytesForCurrentThread() - before:N0} bytes");
    }

    /// <summary>Up to four processes, about 1,000 operations on one key, some writes unknown: the memo keeps the search short.</summary>
    [Fact]
    public void Check_LongConcurrentHistory_FinishesQuickly() =>
        ConcurrentUnique.Array[30].Select(Concatenate).Sample(ops =>
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            bool? linearizable = RegisterChecker.Check(ops);
            return linearizable == true && watch.Elapsed < TimeSpan.FromSeconds(5);
        }, iter: 10);

    // Histories one after another in time, each after a completed write of nil (each was built from an absent
    // key); values are made unique across them.
    private static Operation[] Concatenate(Operation[][] histories)
    {
        var all = new List<Operation>();
        long offset = 0;
        foreach (Operation[] h in histories)
        {
            all.Add(W(all.Count, null, offset, offset + 1));
            offset += 2;
            long end = 0;
            foreach (Operation op in h)
            {
                all.Add(op with { Id = all.Count, Value = op.Value is { } v ? v + (offset * 1_000) : null, Invoked = op.Invoked + offset, Completed = op.Completed == long.MaxValue ? long.MaxValue : op.Completed + offset });
                end = Math.Max(end, op.Invoked + offset);
                end = op.Completed == long.MaxValue ? end : Math.Max(end, op.Completed + offset);
            }

            offset = end + 1;
        }

        return [.. all];
    }
}
