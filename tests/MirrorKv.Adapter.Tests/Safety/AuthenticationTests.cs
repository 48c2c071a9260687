using System.Net;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Adapter.Tests.Safety;

/// <summary>Shared-secret challenge and response, for clients and for the peer link, over real sockets.</summary>
public class AuthenticationTests
{
    private static readonly byte[] ClientSecret = Encoding.UTF8.GetBytes("client secret, 16+ bytes long");
    private static readonly byte[] PeerSecret = Encoding.UTF8.GetBytes("peer secret, also long enough");

    private static NodeOptions Secured => TcpPair.Options with { Secret = ClientSecret, PeerSecret = PeerSecret };

    [Fact]
    public async Task ClientWithTheSecret_IsServed_ByBothNodesOfAPair()
    {
        await using TcpPair primary = await TcpPair.StartPrimaryAsync(Secured);
        await using MirrorKvNode secondary = await MirrorKvNode.StartAsync(
            Secured with { Role = NodeRole.Secondary, PrimaryEndPoint = primary.EndPoint },
            new TcpTransport());
        await Waits.UntilAsync(() => primary.Primary.IsProtected);

        await primary.AssertServesAsync("authenticated");
        Assert.True(await primary.Client.WaitForSecondaryAsync(), "the client must reach the secondary with the same secret");
        Assert.Equal(1, secondary.Store.GetStats().Entries);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("wrong")]
    [InlineData("peer's")]
    public async Task ClientWithoutTheRightSecret_IsRefused_WithATypedError(string which)
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync(Secured);
        byte[]? secret = which switch
        {
            "none" => null,
            "wrong" => Encoding.UTF8.GetBytes("client secret, 16+ bytes lonG"),
            _ => PeerSecret,
        };
        var error = await Assert.ThrowsAsync<MirrorKvException>(() => MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [node.EndPoint], Secret = secret }));
        Assert.Equal(MirrorKvError.AuthenticationFailed, error.Error);
        Assert.Contains(which == "none" ? "requires a secret" : "AuthFailed", error.Message, StringComparison.Ordinal);
        await node.AssertServesAsync($"after-{which}");
    }

    [Fact]
    public async Task SecondaryWithTheWrongPeerSecret_CannotAttach()
    {
        await using TcpPair primary = await TcpPair.StartPrimaryAsync(Secured);
        // Refused at once (not retried until the connect timeout, as a NotPrimary answer is).
        var error = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => MirrorKvNode.StartAsync(
            Secured with { Role = NodeRole.Secondary, PrimaryEndPoint = primary.EndPoint, PeerSecret = ClientSecret },
            new TcpTransport()));
        Assert.Contains("AuthFailed", error.Message, StringComparison.Ordinal);
        Assert.False(primary.Primary.IsProtected);
    }

    [Fact]
    public async Task BeforeTheHandshake_ALargeFrameIsRefusedAtItsHeader_AndAfterItTheNodesMaximumHolds()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync(Secured);

        // A caller that has not proved the secret announces a frame of 1 MiB: refused at the header, nothing buffered.
        await using RawSocket stranger = await RawSocket.ConnectAsync(node.EndPoint);
        byte[] big = RawSocket.Frame(Opcode.Hello, 1, new byte[1 << 20]);
        await stranger.SendAsync(big[..64]);
        (WireStatus status, string message) = (await stranger.ReceiveUntilClosedAsync())!.Value;
        Assert.Equal(WireStatus.FrameTooLarge, status);
        Assert.Contains($"exceeds the maximum of {ProtocolLimits.MaxHandshakeFrameSize}", message, StringComparison.Ordinal);

        // Past the handshake, frames up to the node's maximum are taken: a value of 512 KiB is written.
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [node.EndPoint], Secret = ClientSecret });
        await client.SetAsync("large", new byte[512 * 1024]);
        Assert.Equal(512 * 1024, (await client.GetAsync("large"))!.Length);
    }

    [Fact]
    public async Task Challenge_IsFreshPerConnection_AndAProofForAnotherKindOrChallengeFails()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync(Secured);
        byte[] first = await ChallengeAsync(node.EndPoint);
        await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
        await raw.SendAsync(RawSocket.HelloFrame());
        (FrameHeader header, byte[] challenge) = (await raw.ReceiveAsync())!.Value;
        Assert.Equal(WireStatus.AuthRequired, header.Status);
        Assert.Equal(AuthProof.ChallengeSize, challenge.Length);
        Assert.NotEqual(first, challenge);

        // A replay: the proof of the first connection's challenge.
        var proof = new byte[AuthProof.Size];
        AuthProof.Compute(ClientSecret, PeerKind.Client, first, proof);
        await raw.SendAsync(RawSocket.Frame(Opcode.Auth, 2, proof));
        Assert.Equal(WireStatus.AuthFailed, (await raw.ReceiveUntilClosedAsync())?.Status);

        // The right secret and challenge, but computed for the other kind.
        await using RawSocket other = await RawSocket.ConnectAsync(node.EndPoint);
        await other.SendAsync(RawSocket.HelloFrame());
        byte[] otherChallenge = (await other.ReceiveAsync())!.Value.Payload;
        AuthProof.Compute(ClientSecret, PeerKind.Peer, otherChallenge, proof);
        await other.SendAsync(RawSocket.Frame(Opcode.Auth, 2, proof));
        Assert.Equal(WireStatus.AuthFailed, (await other.ReceiveUntilClosedAsync())?.Status);

        // Anything but AUTH after the challenge, even a valid READ, closes the connection.
        await using RawSocket skipper = await RawSocket.ConnectAsync(node.EndPoint);
        await skipper.SendAsync(RawSocket.HelloFrame());
        _ = await skipper.ReceiveAsync();
        await skipper.SendAsync(RawSocket.ReadFrame(3, new Memory.RemotePointer(1, 4096, 8)));
        Assert.Equal(WireStatus.HandshakeRequired, (await skipper.ReceiveUntilClosedAsync())?.Status);
        await node.AssertServesAsync("after-bad-proofs");
    }

    [Fact]
    public void Proof_DependsOnSecretKindAndChallenge_AndVerifiesInConstantTimeHelper()
    {
        byte[] challenge = AuthProof.NewChallenge();
        var proof = new byte[AuthProof.Size];
        AuthProof.Compute(ClientSecret, PeerKind.Client, challenge, proof);
        Assert.True(AuthProof.Verify(ClientSecret, PeerKind.Client, challenge, proof));
        Assert.False(AuthProof.Verify(PeerSecret, PeerKind.Client, challenge, proof));
        Assert.False(AuthProof.Verify(ClientSecret, PeerKind.Peer, challenge, proof));
        Assert.False(AuthProof.Verify(ClientSecret, PeerKind.Client, AuthProof.NewChallenge(), proof));
        Assert.False(AuthProof.Verify(ClientSecret, PeerKind.Client, challenge, proof.AsSpan(1)));
        Assert.False(proof.AsSpan().IndexOf(ClientSecret.AsSpan(0, 8)) >= 0, "the proof must not carry the secret");
    }

    [Fact]
    public void ShortSecret_IsRejectedByValidate()
    {
        var error = Assert.Throws<ArgumentException>(() => (TcpPair.Options with { Secret = new byte[8] }).Validate());
        Assert.Contains("at least 16 bytes", error.Message, StringComparison.Ordinal);
    }

    private static async Task<byte[]> ChallengeAsync(IPEndPoint endPoint)
    {
        await using RawSocket raw = await RawSocket.ConnectAsync(endPoint);
        await raw.SendAsync(RawSocket.HelloFrame());
        return (await raw.ReceiveAsync())!.Value.Payload;
    }
}
