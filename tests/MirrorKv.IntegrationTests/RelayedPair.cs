using System.Net;
using MirrorKv.Cli.Chaos;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>A primary and its secondary, each behind a <see cref="PeerLinkRelay"/> it advertises, and a watcher of both.</summary>
internal sealed class RelayedPair : IAsyncDisposable
{
    private readonly IPEndPoint _secondaryListen;

    private RelayedPair(NodeProcess primary, PeerLinkRelay primaryRelay, NodeProcess secondary, PeerLinkRelay secondaryRelay, IPEndPoint secondaryListen)
    {
        Primary = primary;
        PrimaryRelay = primaryRelay;
        Secondary = secondary;
        SecondaryRelay = secondaryRelay;
        _secondaryListen = secondaryListen;
        Watch = new PairWatch([primary.EndPoint, secondary.EndPoint], null, _ => { });
    }

    public NodeProcess Primary { get; }

    public PeerLinkRelay PrimaryRelay { get; }

    public NodeProcess Secondary { get; private set; }

    public PeerLinkRelay SecondaryRelay { get; }

    public PairWatch Watch { get; }

    public static async Task<RelayedPair> StartAsync()
    {
        IPEndPoint primaryListen = Ports.FreeEndPoint(), secondaryListen = Ports.FreeEndPoint();
        var primaryRelay = new PeerLinkRelay(primaryListen);
        var secondaryRelay = new PeerLinkRelay(secondaryListen);
        NodeProcess primary = await NodeProcess.StartAsync(["--role", "primary", "--advertise", primaryRelay.EndPoint.ToString()], primaryListen);
        NodeProcess secondary = await StartSecondaryAsync(primaryRelay, secondaryRelay, secondaryListen);
        await primary.WaitProtectedAsync();
        return new RelayedPair(primary, primaryRelay, secondary, secondaryRelay, secondaryListen);
    }

    /// <summary>Starts the secondary again at its endpoints, as an operator does after a kill.</summary>
    public async Task RestartSecondaryAsync()
    {
        await Secondary.DisposeAsync();
        Secondary = await StartSecondaryAsync(PrimaryRelay, SecondaryRelay, _secondaryListen);
    }

    /// <summary>Waits until one node is a primary with a caught-up secondary, and gives that node.</summary>
    public async Task<NodeProcess> WaitProtectedAsync()
    {
        NodeProcess? protectedOne = null;
        await Waits.UntilAsync(async () =>
        {
            foreach (NodeProcess node in new[] { Primary, Secondary })
            {
                try
                {
                    NodeStatus status = await MirrorKvAdmin.GetStatusAsync(node.EndPoint, timeout: TimeSpan.FromMilliseconds(500));
                    if (status is { Role: NodeRole.Primary, Protected: true })
                    {
                        protectedOne = node;
                        return true;
                    }
                }
                catch (MirrorKvException)
                {
                }
            }

            return false;
        }, $"the pair to be protected again by itself:\n{Primary.Output}\n---\n{Secondary.Output}", 30);
        return protectedOne!;
    }

    public async ValueTask DisposeAsync()
    {
        await Watch.DisposeAsync();
        await Secondary.DisposeAsync();
        await Primary.DisposeAsync();
        await SecondaryRelay.DisposeAsync();
        await PrimaryRelay.DisposeAsync();
    }

    private static Task<NodeProcess> StartSecondaryAsync(PeerLinkRelay primaryRelay, PeerLinkRelay secondaryRelay, IPEndPoint listen) =>
        NodeProcess.StartAsync(["--role", "secondary", "--primary", primaryRelay.EndPoint.ToString(), "--advertise", secondaryRelay.EndPoint.ToString()], listen);
}
