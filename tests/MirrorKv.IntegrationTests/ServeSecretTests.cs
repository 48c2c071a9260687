using System.Text;
using MirrorKv.Client;

namespace MirrorKv.IntegrationTests;

/// <summary>`mirrorkv serve` with and without secrets, as an operator would start it.</summary>
[Collection(nameof(ProcessTests))]
public class ServeSecretTests
{
    [Fact]
    public async Task PairWithSecretFiles_ServesOnlyClientsThatProveTheSecret()
    {
        DirectoryInfo dir = Directory.CreateTempSubdirectory("mirrorkv-secret");
        string clientSecret = Path.Combine(dir.FullName, "client"), peerSecret = Path.Combine(dir.FullName, "peer");
        await File.WriteAllTextAsync(clientSecret, "client secret of the test pair\n", TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(peerSecret, "peer secret of the test pair\n", TestContext.Current.CancellationToken);
        foreach (string file in new[] { clientSecret, peerSecret })
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync("--secret-file", clientSecret, "--peer-secret-file", peerSecret);
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint, "--secret-file", clientSecret, "--peer-secret-file", peerSecret);
        Assert.Contains("clients prove the secret from the file", primary.Output, StringComparison.Ordinal);

        byte[] secret = Encoding.UTF8.GetBytes("client secret of the test pair");
        await using (MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint], Secret = secret }))
        {
            await client.SetAsync("guarded", "v"u8.ToArray(), TestContext.Current.CancellationToken);
            Assert.True(await client.WaitForSecondaryAsync(TestContext.Current.CancellationToken));
        }

        var refused = await Assert.ThrowsAsync<MirrorKvException>(() => MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint] }));
        Assert.Equal(MirrorKvError.AuthenticationFailed, refused.Error);
        Assert.True(await WaitProtectedAsync(primary, secret), "the secondary must attach with the peer secret");

        (int code, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "status", "--secret-file", clientSecret, primary.EndPoint.ToString());
        Assert.True(code == 0, output);
        Assert.Contains("primary", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShortSecretOrRemoteListenWithoutSecret_IsRefusedAtStart()
    {
        string shortSecret = Path.Combine(Directory.CreateTempSubdirectory("mirrorkv-secret").FullName, "short");
        await File.WriteAllTextAsync(shortSecret, "tiny\n", TestContext.Current.CancellationToken);
        (int code, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--listen", "127.0.0.1:0", "--secret-file", shortSecret);
        Assert.Equal(2, code);
        Assert.Contains("the secret has 4 bytes; at least 16 are needed", output, StringComparison.Ordinal);

        (code, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--listen", "0.0.0.0:0");
        Assert.Equal(2, code);
        Assert.Contains("without a secret a node listens on loopback only", output, StringComparison.Ordinal);
    }

    private static async Task<bool> WaitProtectedAsync(NodeProcess primary, byte[] secret)
    {
        for (int i = 0; i < 200; i++)
        {
            if ((await MirrorKvAdmin.GetStatusAsync(primary.EndPoint, secret: secret)).Protected)
            {
                return true;
            }

            await Task.Delay(20);
        }

        return false;
    }
}
