namespace MirrorKv.Client;

/// <summary>
/// One page of a slot range's entries as SLOT_EXPORT gave it: the entries in the protocol's encoding (key length,
/// value length, key, value as stored), passed on unchanged to SLOT_IMPORT.
/// </summary>
/// <param name="NextCursor">Where the next page starts; 0 when the range has no more entries.</param>
/// <param name="Count">Entries in the page.</param>
/// <param name="Entries">The encoded entries.</param>
public sealed record SlotPage(ulong NextCursor, int Count, ReadOnlyMemory<byte> Entries);
