namespace MirrorKv.Linearizability;

/// <summary>
/// The set of operations linearized so far, as a bit per operation: with the register's state it is the key of
/// the checker's memo, so equality and hash are over the words.
/// </summary>
internal sealed class OperationSet : IEquatable<OperationSet>
{
    private readonly ulong[] _words;

    public OperationSet(int count) => _words = new ulong[(count + 63) / 64];

    private OperationSet(ulong[] words) => _words = words;

    public void Add(int i) => _words[i >> 6] |= 1UL << (i & 63);

    public void Remove(int i) => _words[i >> 6] &= ~(1UL << (i & 63));

    public OperationSet Clone() => new((ulong[])_words.Clone());

    public bool Equals(OperationSet? other) => other is not null && _words.AsSpan().SequenceEqual(other._words);

    public override bool Equals(object? obj) => Equals(obj as OperationSet);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (ulong w in _words)
        {
            hash.Add(w);
        }

        return hash.ToHashCode();
    }
}
