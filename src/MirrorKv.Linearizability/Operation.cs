namespace MirrorKv.Linearizability;

/// <summary>
/// One operation on one key: when it was invoked and completed (positions on one real-time order), what it
/// wrote or read, and how it ended.
/// </summary>
/// <param name="Id">Unique in its history; the order of invocation.</param>
/// <param name="Key">The register.</param>
/// <param name="Kind">Read or write.</param>
/// <param name="Value">Written value, or the value the read returned; null for a delete or a read of an absent key.</param>
/// <param name="Outcome">How it ended.</param>
/// <param name="Invoked">When it was invoked.</param>
/// <param name="Completed">When it completed; <see cref="long.MaxValue"/> unless <see cref="Outcome"/> is Ok.</param>
public readonly record struct Operation(long Id, string Key, OperationKind Kind, long? Value, Outcome Outcome, long Invoked, long Completed)
{
    /// <summary>A short text: <c>[12] w(5) ok 3..7</c>.</summary>
    public override string ToString()
    {
        string value = Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "nil";
        string end = Completed == long.MaxValue ? "∞" : Completed.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return $"[{Id}] {(Kind == OperationKind.Read ? "r" : "w")}({value}) {Outcome.ToString().ToLowerInvariant()} {Invoked}..{end}";
    }
}
