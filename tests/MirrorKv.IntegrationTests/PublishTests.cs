using System.Text;
using MirrorKv.Client;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The deployable build: `dotnet publish -r linux-x64` gives one self-contained file that serves a pair and
/// stops cleanly on SIGTERM, and the systemd unit in deploy/ passes `systemd-analyze verify`.
/// </summary>
[Collection(nameof(ProcessTests))]
public class PublishTests
{
    [Fact]
    public async Task PublishedSingleFile_ServesAPair_AndStopsCleanlyOnSigterm()
    {
        string repo = NodeProcess.RepositoryRoot();
        string output = Directory.CreateTempSubdirectory("mirrorkv-publish").FullName;
        try
        {
            (int code, string log) = await PackagingTests.RunAsync(TimeSpan.FromMinutes(8), "dotnet", "publish", Path.Combine(repo, "src/MirrorKv.Cli"), "-c", NodeProcess.Configuration, "-r", "linux-x64", "-o", output);
            Assert.True(code == 0, log);
            Assert.Equal(["mirrorkv"], Directory.GetFiles(output).Select(Path.GetFileName).ToArray());
            string binary = Path.Combine(output, "mirrorkv");

            await using NodeProcess primary = await NodeProcess.StartAsync(["--role", "primary"], executable: binary);
            await using NodeProcess secondary = await NodeProcess.StartAsync(["--role", "secondary", "--primary", primary.EndPoint.ToString()], executable: binary);
            await primary.WaitProtectedAsync();
            await using (MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint, secondary.EndPoint] }, TestContext.Current.CancellationToken))
            {
                for (int i = 0; i < 100; i++)
                {
                    await client.SetAsync($"key-{i}", Encoding.UTF8.GetBytes($"value-{i}"), TestContext.Current.CancellationToken);
                }

                byte[]? value = await client.GetAsync("key-42", TestContext.Current.CancellationToken);
                Assert.Equal("value-42", value is null ? null : Encoding.UTF8.GetString(value));
            }

            Assert.Equal(0, await secondary.TerminateAsync());
            Assert.Equal(0, await primary.TerminateAsync());
            Assert.Contains("shutting down", primary.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public async Task SystemdUnit_PassesSystemdAnalyzeVerify()
    {
        if (!File.Exists("/usr/bin/systemd-analyze") && !File.Exists("/bin/systemd-analyze"))
        {
            Assert.Skip("systemd-analyze is not installed here (package systemd)");
        }

        string unit = await File.ReadAllTextAsync(Path.Combine(NodeProcess.RepositoryRoot(), "deploy/systemd/mirrorkv.service"), TestContext.Current.CancellationToken);
        Assert.Contains("ExecStart=/usr/local/bin/mirrorkv serve", unit, StringComparison.Ordinal);
        Assert.Contains("KillSignal=SIGTERM", unit, StringComparison.Ordinal);

        // verify checks that ExecStart names an executable file: point it at one that exists here.
        string directory = Directory.CreateTempSubdirectory("mirrorkv-unit").FullName;
        try
        {
            string path = Path.Combine(directory, "mirrorkv.service");
            await File.WriteAllTextAsync(path, unit.Replace("/usr/local/bin/mirrorkv", "/bin/true", StringComparison.Ordinal), TestContext.Current.CancellationToken);
            (int code, string log) = await PackagingTests.RunAsync(TimeSpan.FromMinutes(1), "systemd-analyze", "verify", path);
            Assert.True(code == 0, log);
            Assert.DoesNotContain("mirrorkv.service:", log, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
