namespace MirrorKv.Memory;

/// <summary>
/// Where bytes live in a node's registered memory: the region's rkey, the real virtual address in the
/// owner's process (as in RDMA, not an offset) and a length. Clients cache these and hand them back.
/// </summary>
/// <param name="RKey">The remote key of the memory region; random per incarnation of the region.</param>
/// <param name="Address">Virtual address of the first byte in the owner's address space.</param>
/// <param name="Length">Number of bytes.</param>
public readonly record struct RemotePointer(uint RKey, ulong Address, uint Length)
{
    /// <summary>True for the default value, which never names real memory (rkey 0 is never issued).</summary>
    public bool IsNull => RKey == 0;

    /// <inheritdoc />
    public override string ToString() => $"(rkey 0x{RKey:x8}, address 0x{Address:x}, length {Length})";
}
