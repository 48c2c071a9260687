using MirrorKv.Memory;

namespace MirrorKv.Protocol;

/// <summary>A registered region as HELLO announces it: rkey u32, access u32, base u64, length u64 (24 bytes).</summary>
/// <param name="RKey">The region's rkey for this incarnation.</param>
/// <param name="Access">What a client may do with it.</param>
/// <param name="BaseAddress">Virtual address of its first byte in the node.</param>
/// <param name="Length">Length in bytes.</param>
public readonly record struct RegionInfo(uint RKey, AccessFlags Access, ulong BaseAddress, ulong Length)
{
    /// <summary>Encoded size.</summary>
    public const int Size = 24;

    internal void Write(ref PayloadWriter w)
    {
        w.U32(RKey);
        w.U32((uint)Access);
        w.U64(BaseAddress);
        w.U64(Length);
    }

    internal static RegionInfo Read(ref PayloadReader r) => new(r.U32(), (AccessFlags)r.U32(), r.U64(), r.U64());
}
