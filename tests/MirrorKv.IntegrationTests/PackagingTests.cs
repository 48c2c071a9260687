using System.IO.Compression;
using System.Text.RegularExpressions;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// `dotnet pack` produces the client packages (with README and XML docs) and the `mirrorkv` .NET tool,
/// and the tool installs from the packed output and runs.
/// </summary>
[Collection(nameof(ProcessTests))]
public class PackagingTests
{
    [Fact]
    public async Task Pack_ProducesPackagesWithReadmeAndDocs_AndTheToolInstallsAndRuns()
    {
        string repo = NodeProcess.RepositoryRoot();
        string output = Directory.CreateTempSubdirectory("mirrorkv-pack").FullName;
        try
        {
            string configuration = NodeProcess.Configuration;
            foreach (string project in new[] { "src/MirrorKv.Extensions.Caching", "src/MirrorKv.Client", "src/MirrorKv.Cli" })
            {
                (int code, string log) = await RunAsync("dotnet", "pack", Path.Combine(repo, project), "-c", configuration, "--no-build", "-o", output);
                Assert.True(code == 0, log);
            }

            foreach (string package in new[] { "MirrorKv.Extensions.Caching", "MirrorKv.Client" })
            {
                using ZipArchive nupkg = ZipFile.OpenRead(Path.Combine(output, $"{package}.0.1.0.nupkg"));
                string[] entries = [.. nupkg.Entries.Select(e => e.FullName)];
                Assert.Contains("README.md", entries);
                Assert.Contains($"lib/net10.0/{package}.dll", entries);
                Assert.Contains($"lib/net10.0/{package}.xml", entries);
                using var nuspec = new StreamReader(nupkg.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
                string text = await nuspec.ReadToEndAsync(TestContext.Current.CancellationToken);
                Assert.Contains("<readme>README.md</readme>", text, StringComparison.Ordinal);
                Assert.Matches(new Regex("<description>.{40,}</description>", RegexOptions.Singleline), text);

                // An application installs the entry format with the client, not the store engine.
                Assert.Contains("id=\"MirrorKv.Entries\"", text, StringComparison.Ordinal);
                Assert.DoesNotContain("id=\"MirrorKv.Store\"", text, StringComparison.Ordinal);
            }

            string tools = Path.Combine(output, "tools");
            (int installed, string installLog) = await RunAsync("dotnet", "tool", "install", "--tool-path", tools, "--add-source", output, "MirrorKv.Cli", "--version", "0.1.0");
            Assert.True(installed == 0, installLog);
            (int ran, string help) = await RunAsync(Path.Combine(tools, "mirrorkv"), "--help");
            Assert.True(ran == 0, help);
            Assert.Contains("serve", help, StringComparison.Ordinal);
            Assert.Contains("status", help, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    private static Task<(int ExitCode, string Output)> RunAsync(string file, params string[] args) => RunAsync(TimeSpan.FromMinutes(2), file, args);

    /// <summary>Runs <paramref name="file"/> to its end (at most <paramref name="timeout"/>): exit code, stdout and stderr.</summary>
    internal static async Task<(int ExitCode, string Output)> RunAsync(TimeSpan timeout, string file, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(timeout).Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
