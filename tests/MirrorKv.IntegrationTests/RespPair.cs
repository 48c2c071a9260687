using System.Net;

namespace MirrorKv.IntegrationTests;

/// <summary>Two <c>serve</c> processes, primary and secondary, each with a RESP port; protected when returned.</summary>
internal sealed class RespPair : IAsyncDisposable
{
    private RespPair(NodeProcess primary, NodeProcess secondary, IPEndPoint primaryResp, IPEndPoint secondaryResp)
    {
        Primary = primary;
        Secondary = secondary;
        PrimaryResp = primaryResp;
        SecondaryResp = secondaryResp;
    }

    public NodeProcess Primary { get; }

    public NodeProcess Secondary { get; }

    public IPEndPoint PrimaryResp { get; }

    public IPEndPoint SecondaryResp { get; }

    public static async Task<RespPair> StartAsync(string[]? primaryArgs = null, string[]? secondaryArgs = null)
    {
        var primaryResp = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        var secondaryResp = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        NodeProcess primary = await NodeProcess.StartPrimaryAsync(["--resp-listen", primaryResp.ToString(), .. primaryArgs ?? []]);
        NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint, ["--resp-listen", secondaryResp.ToString(), .. secondaryArgs ?? []]);
        await primary.WaitProtectedAsync();
        return new RespPair(primary, secondary, primaryResp, secondaryResp);
    }

    public async ValueTask DisposeAsync()
    {
        await Secondary.DisposeAsync();
        await Primary.DisposeAsync();
    }
}
