namespace MirrorKv.Linearizability;

/// <summary>A key whose history is not linearizable, with a small sub-history that is not either.</summary>
/// <param name="Key">The key.</param>
/// <param name="Operations">Operations of the key in the history.</param>
/// <param name="Minimized">
/// A sub-history that still cannot be linearized, from which no single operation can be removed without it
/// becoming linearizable (within the minimizer's budget): the anomaly, in invocation order.
/// </param>
public sealed record Violation(string Key, int Operations, IReadOnlyList<Operation> Minimized)
{
    /// <summary>Lines for a person: the key, then one operation per line.</summary>
    public string ToText()
    {
        var text = new System.Text.StringBuilder();
        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"key {Key}: not linearizable ({Operations} operations; {Minimized.Count} of them still are not):");
        foreach (Operation op in Minimized)
        {
            text.Append("\n  ").Append(op.ToString());
        }

        return text.ToString();
    }
}
