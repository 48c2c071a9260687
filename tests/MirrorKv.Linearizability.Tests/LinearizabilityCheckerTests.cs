using MirrorKv.Linearizability;
using static MirrorKv.Linearizability.Tests.Histories;

namespace MirrorKv.Linearizability.Tests;

/// <summary>Many keys at once, the report, and the minimized first violation.</summary>
public class LinearizabilityCheckerTests
{
    [Fact]
    public void Check_KeysAreRegistersOfTheirOwn()
    {
        // Fine per key; one register for both keys would make the read of a return 1 after b's write stale.
        CheckReport report = LinearizabilityChecker.Check([W(0, 1, 1, 2, "a"), W(1, 2, 3, 4, "b"), R(2, 1, 5, 6, "a")]);
        Assert.True(report.IsLinearizable, report.ToText());
        Assert.Equal((2, 3L), (report.Keys, report.Operations));
    }

    [Fact]
    public void Check_ReportsEveryViolatingKey_AndTheFirstInKeyOrder()
    {
        CheckReport report = LinearizabilityChecker.Check([W(0, 1, 1, 2, "b"), R(1, 5, 3, 4, "b"), W(2, 1, 1, 2, "a"), R(3, 6, 3, 4, "a"), W(4, 1, 1, 2, "c")]);
        Assert.Equal(2, report.Violations);
        Assert.Equal("a", report.FirstViolation!.Key);
        Assert.Contains("key a: not linearizable", report.ToText(), StringComparison.Ordinal);
    }

    /// <summary>One stale read buried in 400 good operations: the report keeps the write it missed and the read.</summary>
    [Fact]
    public void Check_MinimizesTheViolation_ToTheOperationsThatCauseIt()
    {
        var ops = new List<Operation>();
        long t = 0;
        for (int i = 0; i < 200; i++)
        {
            ops.Add(W(ops.Count, i, t++, t++));
            ops.Add(R(ops.Count, i, t++, t++));
        }

        ops.Insert(301, R(1_000, 10, t - 2, t - 1) with { Invoked = ops[300].Completed + 1, Completed = ops[300].Completed + 2 });
        for (int i = 302; i < ops.Count; i++)
        {
            ops[i] = ops[i] with { Invoked = ops[i].Invoked + 3, Completed = ops[i].Completed + 3 };
        }

        CheckReport report = LinearizabilityChecker.Check(ops);
        Assert.Equal(1, report.Violations);
        IReadOnlyList<Operation> minimized = report.FirstViolation!.Minimized;
        Assert.False(RegisterChecker.Check(minimized));
        Assert.True(minimized.Count <= 3, report.ToText());
        Assert.Contains(minimized, op => op.Id == 1_000);
    }

    [Fact]
    public void Minimize_ReadOfAValueNeverWritten_IsKeptAlone() =>
        Assert.Equal([1L], LinearizabilityChecker.Minimize([W(0, 1, 1, 2), R(1, 7, 3, 4), W(2, 2, 5, 6)]).Select(op => op.Id));

    [Fact]
    public void Minimize_ResultIsOneMinimal()
    {
        Operation[] history = [W(0, 1, 1, 2), W(1, 2, 3, 4), R(2, 2, 5, 6), W(3, 3, 7, 8), R(4, 1, 9, 10), R(5, 3, 11, 12)];
        IReadOnlyList<Operation> minimized = LinearizabilityChecker.Minimize(history);
        Assert.False(RegisterChecker.Check(minimized));
        for (int i = 0; i < minimized.Count; i++)
        {
            // Without any one of them it passes, or one of its reads returns a value no remaining write wrote.
            List<Operation> without = minimized.Where((_, j) => j != i).ToList();
            bool unexplained = without.Any(r => r.Kind == OperationKind.Read && r.Value is not null && !without.Any(w => w.Kind == OperationKind.Write && w.Value == r.Value));
            Assert.True(unexplained || RegisterChecker.Check(without) == true, $"still failing without {minimized[i]}");
        }
    }

    [Fact]
    public void Check_WithABudgetTooSmall_SaysUndecided_NotLinearizable()
    {
        CheckReport report = LinearizabilityChecker.Check([W(0, 1, 1, 4), W(1, 2, 2, 5), R(2, 2, 3, 6), R(3, 1, 7, 8)], stepBudget: 2);
        Assert.Equal(1, report.Undecided);
        Assert.False(report.IsLinearizable);
    }
}
