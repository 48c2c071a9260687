using System.Globalization;
using System.Net;
using System.Text;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// SENTINEL on the sentinel port (and on the RESP port): each node of the pair answers as one of the pair's two sentinels, so that a redis
/// client configured with both nodes as sentinels (StackExchange.Redis <c>serviceName=</c>, redis-py's
/// <c>Sentinel</c>) finds the primary's RESP endpoint and finds it again after a failover. The service
/// (master) name is the pair's name (<see cref="NodeOptions.PairName"/>); any other name is unknown.
/// </summary>
/// <remarks>
/// A node names as primary only what it knows: itself while it serves as primary, or the primary it follows
/// while its link is up. A fenced, rejoining-alone or cut-off node answers null (redis's "no such master"),
/// so that the client asks the other sentinel: the two never name different primaries at the same epoch,
/// and a client that asked a stale one meets ROLE "slave" or READONLY at the named node and asks again.
/// </remarks>
internal sealed partial class RespHandler
{
    // SENTINEL GET-MASTER-ADDR-BY-NAME name | MASTER name | MASTERS | REPLICAS name | SLAVES name | SENTINELS name | MYID
    private void Sentinel(RespSession session, in RespRequest request)
    {
        RespOutput output = session.Output;
        ReadOnlySpan<byte> sub = request[1];
        if (RespNumbers.Is(sub, "MASTERS"u8) && request.Count == 2)
        {
            IPEndPoint? primary = KnownPrimaryResp();
            output.Array(primary is null ? 0 : 1);
            if (primary is not null)
            {
                WriteMaster(output, primary);
            }

            return;
        }

        if (RespNumbers.Is(sub, "MYID"u8) && request.Count == 2)
        {
            output.Bulk(_node.Incarnation.ToString("x16", CultureInfo.InvariantCulture));
            return;
        }

        if (request.Count != 3)
        {
            output.Error("ERR wrong number of arguments for 'sentinel' command, or an unknown subcommand (served: GET-MASTER-ADDR-BY-NAME, MASTER, MASTERS, REPLICAS, SLAVES, SENTINELS, MYID)");
            return;
        }

        bool known = request[2].SequenceEqual(Encoding.UTF8.GetBytes(_node.Options.EffectivePairName));
        if (RespNumbers.Is(sub, "GET-MASTER-ADDR-BY-NAME"u8))
        {
            if (known && KnownPrimaryResp() is { } primary)
            {
                output.Array(2);
                output.Bulk(primary.Address.ToString());
                output.Bulk(primary.Port.ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                output.NullArray();
            }
        }
        else if (RespNumbers.Is(sub, "MASTER"u8))
        {
            if (known && KnownPrimaryResp() is { } primary)
            {
                WriteMaster(output, primary);
            }
            else
            {
                output.Error("ERR No such master with that name");
            }
        }
        else if (RespNumbers.Is(sub, "REPLICAS"u8) || RespNumbers.Is(sub, "SLAVES"u8))
        {
            IPEndPoint? replica = known ? KnownSecondaryResp() : null;
            output.Array(replica is null ? 0 : 1);
            if (replica is not null)
            {
                WriteInstance(output, replica, "slave", KnownPrimaryResp());
            }
        }
        else if (RespNumbers.Is(sub, "SENTINELS"u8))
        {
            // A sentinel lists the others it found through the master, never itself. A node does not learn its
            // peer's sentinel port, so it lists none: clients keep the sentinels they were configured with.
            output.Array(0);
        }
        else
        {
            output.Error("ERR unknown SENTINEL subcommand (served: GET-MASTER-ADDR-BY-NAME, MASTER, MASTERS, REPLICAS, SLAVES, SENTINELS, MYID)");
        }
    }

    // What a redis Sentinel serves that MirrorKv has: no keys, no data commands.
    private static bool ServedBySentinel(RespCommandKind kind) => kind is RespCommandKind.Ping or RespCommandKind.Echo
        or RespCommandKind.Hello or RespCommandKind.Auth or RespCommandKind.Quit or RespCommandKind.Client
        or RespCommandKind.Info or RespCommandKind.Role or RespCommandKind.Command or RespCommandKind.Sentinel
        or RespCommandKind.Subscribe or RespCommandKind.PSubscribe or RespCommandKind.Unsubscribe or RespCommandKind.PUnsubscribe;

    // ROLE on the sentinel port: ["sentinel", [names of the masters it monitors]].
    private void SentinelRole(RespSession session)
    {
        session.Output.Array(2);
        session.Output.Bulk("sentinel"u8);
        session.Output.Array(1);
        session.Output.Bulk(_node.Options.EffectivePairName);
    }

    // The RESP endpoint of the node this one knows to serve as primary now: itself, or the primary it follows.
    private IPEndPoint? KnownPrimaryResp() => _node.Role switch
    {
        NodeRole.Primary => _node.AdvertisedRespEndPoint,
        NodeRole.Secondary or NodeRole.Rejoining => _node.PeerRespEndPoint,
        _ => null,
    };

    private IPEndPoint? KnownSecondaryResp() => _node.Role switch
    {
        NodeRole.Primary => _node.PeerRespEndPoint,
        NodeRole.Secondary when _node.PeerRespEndPoint is not null => _node.AdvertisedRespEndPoint,
        _ => null,
    };

    private void WriteMaster(RespOutput output, IPEndPoint primary)
    {
        int replicas = KnownSecondaryResp() is null ? 0 : 1;
        output.Map(7);
        Field(output, "name", _node.Options.EffectivePairName);
        Field(output, "ip", primary.Address.ToString());
        Field(output, "port", primary.Port.ToString(CultureInfo.InvariantCulture));
        Field(output, "runid", _node.Incarnation.ToString("x16", CultureInfo.InvariantCulture));
        Field(output, "flags", "master");
        Field(output, "num-slaves", replicas.ToString(CultureInfo.InvariantCulture));
        Field(output, "num-other-sentinels", "0");
    }

    private static void WriteInstance(RespOutput output, IPEndPoint endPoint, string flags, IPEndPoint? master)
    {
        output.Map(master is null ? 4 : 7);
        Field(output, "name", endPoint.ToString());
        Field(output, "ip", endPoint.Address.ToString());
        Field(output, "port", endPoint.Port.ToString(CultureInfo.InvariantCulture));
        Field(output, "flags", flags);
        if (master is not null)
        {
            Field(output, "master-link-status", "ok");
            Field(output, "master-host", master.Address.ToString());
            Field(output, "master-port", master.Port.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static void Field(RespOutput output, string name, string value)
    {
        output.Bulk(name);
        output.Bulk(value);
    }
}
