namespace MirrorKv.Entries;

/// <summary>Where the value lies inside a slot copy that <see cref="EntryValidator"/> accepted.</summary>
/// <param name="Version">The entry's version (even).</param>
/// <param name="ValueOffset">Offset of the value inside the copy.</param>
/// <param name="ValueLength">Length of the value.</param>
public readonly record struct ValidatedEntry(ulong Version, int ValueOffset, int ValueLength)
{
    /// <summary>The value inside <paramref name="slotCopy"/>, the same bytes that were validated.</summary>
    public ReadOnlySpan<byte> ValueOf(ReadOnlySpan<byte> slotCopy) => slotCopy.Slice(ValueOffset, ValueLength);
}
