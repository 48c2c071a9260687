using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>What a node says about itself: STATUS, and the slab layout a joining secondary copies.</summary>
public sealed partial class MirrorKvNode
{
    /// <summary>
    /// What STATUS reports: the peer only while it is attached, lag only against an attached secondary,
    /// LSNs in the primary's numbering on every node (they go on across a promotion), and the lease.
    /// </summary>
    public NodeStatus DescribeStatus()
    {
        (NodeRole role, ulong epoch) = _role.Current;
        ulong lsn = Lsn;
        IPEndPoint? peer;
        ulong acked = lsn;
        if (role is NodeRole.Primary or NodeRole.Fenced)
        {
            bool attached = Stream.Peer is { IsOpen: true };
            peer = attached ? Volatile.Read(ref _secondaryEndPoint) : null;
            acked = attached ? Math.Min(AckedLsn, lsn) : lsn;
        }
        else
        {
            peer = _link is { IsConnected: true } ? Options.PrimaryEndPoint : null;
        }

        return new NodeStatus(role, IsProtected, epoch, lsn, acked, (ulong)Store.GetStats().Entries, peer) { LeaseRemaining = LeaseRemaining };
    }

    /// <summary>A joining secondary asks which slabs to copy.</summary>
    internal void DescribeSlabs(IConnection connection, ulong requestId)
    {
        IReadOnlyList<(int Slab, int SlotSize)> layout = Store.GetClaimedSlabLayout();
        var slabs = new (ulong, uint)[layout.Count];
        for (int i = 0; i < slabs.Length; i++)
        {
            slabs[i] = (Store.Memory.AddressOf((ulong)layout[i].Slab * (ulong)Store.Options.SlabSize), (uint)layout[i].SlotSize);
        }

        SlabsMessages.WriteReply(connection.BeginPost(Opcode.Slabs | Opcode.ReplyBit, WireStatus.Ok, requestId, SlabsMessages.ReplySize(slabs.Length)), (uint)Store.Options.SlabSize, slabs);
        connection.EndPost();
    }
}
