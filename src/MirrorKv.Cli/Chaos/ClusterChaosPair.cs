using System.Diagnostics;
using System.Net;
using MirrorKv.Client;
using MirrorKv.Protocol;
using static MirrorKv.Cli.PairLauncher;

namespace MirrorKv.Cli.Chaos;

/// <summary>
/// One pair of <c>chaos --cluster</c>: its two <c>serve --cluster --pair</c> processes, which of them is primary as
/// they last said, and the supervisor's part after a kill: wait for the survivor's promotion, start the dead node
/// again (same endpoints) as the survivor's secondary, wait until the pair is protected again.
/// </summary>
internal sealed class ClusterChaosPair(string id, ChildNode[] nodes, string[] args, TextWriter log, Func<NodeAddress, TextWriter?> nodeLog) : IAsyncDisposable
{
    private int _primary;

    public string Id => id;

    public ChildNode Primary => nodes[_primary];

    public IReadOnlyList<ChildNode> Nodes => nodes;

    public ulong Epoch { get; private set; } = 1;

    /// <summary>Starts the pair: its primary (which claims the pair's leader key), then its secondary.</summary>
    public static async Task<ClusterChaosPair> StartAsync(string id, NodeAddress primary, NodeAddress secondary, string[] args, TextWriter log, Func<NodeAddress, TextWriter?> nodeLog)
    {
        ChildNode first = await ChildNode.StartAsync("primary", primary, args, "", log, nodeLog(primary));
        try
        {
            ChildNode second = await ChildNode.StartAsync("secondary", secondary, [.. args, "--primary", primary.Advertised.ToString()], "", log, nodeLog(secondary));
            return new ClusterChaosPair(id, [first, second], args, log, nodeLog);
        }
        catch
        {
            await first.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the pair's primary says it is protected (its secondary in sync), within <paramref name="limit"/>.</summary>
    public async Task<bool> WaitProtectedAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            for (int i = 0; i < nodes.Length; i++)
            {
                NodeStatus? status = await StatusAsync(nodes[i], cancellationToken);
                if (status is { Role: NodeRole.Primary, Protected: true })
                {
                    (_primary, Epoch) = (i, status.Epoch);
                    return true;
                }
            }

            await Task.Delay(20, cancellationToken);
        }

        return false;
    }

    /// <summary>
    /// SIGKILL of the primary; then waits for the survivor's promotion (reported: how long it took) and starts the dead
    /// node again as its secondary. Null when the survivor was not promoted or the restart failed within <paramref name="limit"/>.
    /// </summary>
    public async Task<TimeSpan?> KillPrimaryAndHealAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        int victim = _primary, survivor = 1 - _primary;
        await nodes[victim].KillAsync();
        var clock = Stopwatch.StartNew();
        TimeSpan? promoted = null;
        while (clock.Elapsed < limit)
        {
            if (await StatusAsync(nodes[survivor], cancellationToken) is { Role: NodeRole.Primary } status && status.Epoch > Epoch)
            {
                (promoted, _primary, Epoch) = (clock.Elapsed, survivor, status.Epoch);
                break;
            }

            await Task.Delay(10, cancellationToken);
        }

        if (promoted is null)
        {
            return null;
        }

        while (clock.Elapsed < limit)
        {
            ChildNode dead = nodes[victim];
            await dead.DisposeAsync();
            try
            {
                nodes[victim] = await ChildNode.StartAsync("secondary", dead.Address, [.. args, "--primary", nodes[survivor].EndPoint.ToString()], "", log, nodeLog(dead.Address));
                break;
            }
            catch (InvalidOperationException)
            {
                // The survivor did not take it yet (its own claim still settling): the dead node's place stays, try again.
                await Task.Delay(200, cancellationToken);
            }
            catch (TimeoutException)
            {
                await Task.Delay(200, cancellationToken);
            }
        }

        TimeSpan left = limit - clock.Elapsed;
        return left > TimeSpan.Zero && await WaitProtectedAsync(left, cancellationToken) ? promoted : null;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (ChildNode node in nodes)
        {
            node.Quiet();
        }

        foreach (ChildNode node in nodes)
        {
            await node.DisposeAsync();
        }
    }

    private static async Task<NodeStatus?> StatusAsync(ChildNode node, CancellationToken cancellationToken)
    {
        try
        {
            return await MirrorKvAdmin.GetStatusAsync(node.EndPoint, timeout: TimeSpan.FromMilliseconds(500), cancellationToken: cancellationToken);
        }
        catch (MirrorKvException)
        {
            return null;
        }
    }

    /// <summary>The pair as the map lists it: its two members' native endpoints.</summary>
    public ClusterPair ToClusterPair() => new(id, [.. nodes.Select(n => new ClusterMember(n.EndPoint))]);

    /// <summary>Both members' endpoints, for clients.</summary>
    public IEnumerable<EndPoint> EndPoints => nodes.Select(n => (EndPoint)n.EndPoint);
}
