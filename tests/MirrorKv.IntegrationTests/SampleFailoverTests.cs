using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using MirrorKv.Client;
using MirrorKv.Samples.WebApi;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The sample API (HybridCache with MirrorKv as L2) over a real pair of processes: requests keep succeeding
/// through a kill -9 of the primary, the health check turns Degraded, then Healthy after the rejoin.
/// </summary>
[Collection(nameof(ProcessTests))]
public class SampleFailoverTests
{
    [Fact]
    public async Task SampleApi_SurvivesPrimaryKill_HealthDegradedThenHealthyAfterRejoin()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();
        await using WebApplicationFactory<ForecastSource> api = new WebApplicationFactory<ForecastSource>().WithWebHostBuilder(b =>
            b.UseSetting("MirrorKv:EndPoints", $"{primary.EndPoint},{secondary.EndPoint}"));
        using HttpClient http = api.CreateClient();

        // Warm: forecasts are computed once and land in the pair.
        for (int i = 0; i < 50; i++)
        {
            Forecast? forecast = await http.GetFromJsonAsync<Forecast>($"/forecast/city-{i}", TestContext.Current.CancellationToken);
            Assert.Equal($"city-{i}", forecast!.City);
        }

        Assert.Equal("Healthy", await HealthAsync(http));
        Assert.True(await MirrorKvAdmin.GetStatusAsync(primary.EndPoint) is { Entries: >= 50 }, "the forecasts must be in the pair (L2)");

        await primary.KillAsync();
        int served = 0;
        var statuses = new HashSet<string>();
        for (int i = 0; i < 100; i++)
        {
            // New cities (L1 misses: the factory runs and writes L2 on the promoted node) and old ones.
            using HttpResponseMessage response = await http.GetAsync($"/forecast/city-{(i % 2 == 0 ? i : 1000 + i)}", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            served++;
            if (i % 10 == 0)
            {
                statuses.Add(await HealthAsync(http));
            }
        }

        Assert.Equal(100, served);
        Assert.Contains("Degraded", statuses);
        Assert.DoesNotContain("Unhealthy", statuses);

        await using NodeProcess rejoined = await NodeProcess.StartSecondaryAsync(secondary.EndPoint);
        await secondary.WaitProtectedAsync();
        string health = "";
        for (int i = 0; i < 100 && health != "Healthy"; i++)
        {
            health = await HealthAsync(http);
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        Assert.Equal("Healthy", health);
        Assert.True(api.Services.GetRequiredService<ForecastSource>().Computed >= 50);
    }

    private static async Task<string> HealthAsync(HttpClient http)
    {
        using HttpResponseMessage response = await http.GetAsync("/health");
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("status").GetString()!;
    }
}
