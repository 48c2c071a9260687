using System.Globalization;
using System.Net;
using System.Text;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Simulation;

/// <summary>
/// The maps and coordinator keys of a simulated cluster of pairs with no processes behind them: what etcd holds for
/// a cluster of that many pairs, byte for byte in the formats the nodes write (ids <c>p1</c>..<c>pN</c>, each
/// member with a native and a RESP endpoint, as <c>cluster up --resp</c> gives), and the maps a rebalance writes.
/// </summary>
internal static class SimMap
{
    /// <summary>Slots per simulated batch: the model test's batches (a real <c>cluster move</c> takes 1,024).</summary>
    public const int BatchSlots = 64;

    /// <summary>An even map of <paramref name="pairs"/> pairs of two members, version 1.</summary>
    public static ClusterMap Even(string cluster, int pairs) =>
        ClusterMap.SplitEvenly(cluster, 1, [.. Enumerable.Range(0, pairs).Select(i => new ClusterPair($"p{i + 1}", [Member(i, 0), Member(i, 1)]))]);

    /// <summary>
    /// Map <paramref name="version"/>, change <paramref name="step"/> (from 0) of a rebalance of <paramref name="current"/>:
    /// batch step / 3 moves the first <see cref="BatchSlots"/> slots of the even share of pair step / 3 to the next
    /// pair, through the mover's three maps (copy, handoff, owned by the target).
    /// </summary>
    public static ClusterMap Step(ClusterMap current, ulong version, int step)
    {
        int pairs = current.Pairs.Count;
        int source = step / 3 % pairs;
        int first = 0;
        for (int i = 0; i < source; i++)
        {
            first += ShareOf(i, pairs);
        }

        int last = first + Math.Min(BatchSlots, ShareOf(source, pairs)) - 1;
        string from = current.Owner(first).Id, to = current.Pairs[(source + 1) % pairs].Id;
        return (step % 3) switch
        {
            0 => current.WithSlots(version, first, last, from, to, MigrationPhase.Copy),
            1 => current.WithSlots(version, first, last, from, to, MigrationPhase.Handoff),
            _ => current.WithSlots(version, first, last, to),
        };
    }

    /// <summary>The pair's primary (member 0 at epoch 1; member 1 after a failover).</summary>
    public static IPEndPoint Primary(ClusterMap map, int pair, ulong epoch) => map.Pairs[pair].Members[(int)((epoch + 1) % 2)].EndPoint;

    /// <summary>The leader key's value, as <c>LeaderRecord</c> writes it.</summary>
    public static byte[] LeaderValue(ulong epoch, IPEndPoint endPoint, long lease) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"epoch\":{epoch},\"endpoint\":\"{endPoint}\",\"lease\":{lease}}}"));

    /// <summary>The in-sync key's value, as <c>InSyncRecord</c> writes it with both members in sync.</summary>
    public static byte[] InSyncValue(ulong epoch, IPEndPoint leader, IPEndPoint secondary) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"epoch\":{epoch},\"leader\":\"{leader}\",\"secondary\":\"{secondary}\"}}"));

    /// <summary>The epoch key's value.</summary>
    public static byte[] EpochValue(ulong epoch) => Encoding.UTF8.GetBytes(epoch.ToString(CultureInfo.InvariantCulture));

    private static int ShareOf(int pair, int pairs) => (HashSlot.Count / pairs) + (pair < HashSlot.Count % pairs ? 1 : 0);

    // Addresses as a data centre's would look (10.x.y.z), ports as cluster up's; nothing listens there.
    private static ClusterMember Member(int pair, int member)
    {
        var address = new IPAddress([10, (byte)(pair >> 8), (byte)pair, (byte)(10 + member)]);
        return new ClusterMember(new IPEndPoint(address, 7400), new IPEndPoint(address, 6379));
    }
}
