using MirrorKv.Memory;

namespace MirrorKv.Client;

/// <summary>A local table entry: where the key's entry is, and the newest version of it this client saw.</summary>
/// <param name="Pointer">Remote pointer (on the primary, or translated to the secondary).</param>
/// <param name="MinVersion">Reads reject entries older than this (stale after an acknowledged write).</param>
internal readonly record struct CachedPointer(RemotePointer Pointer, ulong MinVersion);
