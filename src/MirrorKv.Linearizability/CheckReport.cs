namespace MirrorKv.Linearizability;

/// <summary>What <see cref="LinearizabilityChecker.Check"/> found in a history.</summary>
/// <param name="Keys">Keys checked.</param>
/// <param name="Operations">Operations checked (failed ones and unanswered reads included, though they constrain nothing).</param>
/// <param name="Violations">Keys whose history is not linearizable.</param>
/// <param name="Undecided">Keys whose search ran out of its step budget (neither proven nor refuted).</param>
/// <param name="FirstViolation">The violating key first in key order, minimized; null when none.</param>
public sealed record CheckReport(int Keys, long Operations, int Violations, int Undecided, Violation? FirstViolation)
{
    /// <summary>True when every key's history is linearizable.</summary>
    public bool IsLinearizable => Violations == 0 && Undecided == 0;

    /// <summary>One line, or the line and the minimized violation.</summary>
    public string ToText()
    {
        string line = FormattableString.Invariant($"linearizability: {Operations} operations on {Keys} keys, {Violations} violations, {Undecided} undecided");
        return FirstViolation is null ? line : line + "\n" + FirstViolation.ToText();
    }
}
