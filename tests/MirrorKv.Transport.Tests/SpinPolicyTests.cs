using CsCheck;
using MirrorKv.Transport.Epoll;

namespace MirrorKv.Transport.Tests;

public sealed class SpinPolicyTests
{
    // Runs idle periods; a spin ends in work with probability hitRate, else its window runs out. Returns the spins.
    private static int Run(ref SpinPolicy policy, Random random, double hitRate, int periods)
    {
        int spins = 0;
        for (int i = 0; i < periods; i++)
        {
            if (!policy.ShouldSpin())
            {
                continue;
            }

            spins++;
            if (random.NextDouble() < hitRate)
            {
                policy.Hit();
            }
            else
            {
                policy.Miss();
            }
        }

        return spins;
    }

    [Fact]
    public void SpinsThatAlwaysFindWork_KeepSpinning()
    {
        SpinPolicy policy = SpinPolicy.Start();
        const int periods = 10_000;
        Assert.Equal(periods, Run(ref policy, new Random(1), hitRate: 1, periods));
        Assert.Equal(SpinPolicy.MaxCredit, policy.Credit);
    }

    [Fact]
    public void SpinsThatNeverFindWork_StopAfterTheCredit_ThenOnlyProbe()
    {
        SpinPolicy policy = SpinPolicy.Start();
        Assert.Equal(SpinPolicy.MaxCredit, Run(ref policy, new Random(1), hitRate: 0, periods: SpinPolicy.MaxCredit));
        Assert.Equal(0, policy.Credit);

        const int periods = 8_000;
        Assert.Equal(periods / SpinPolicy.ProbeEvery, Run(ref policy, new Random(1), hitRate: 0, periods));
    }

    [Fact]
    public void TrafficThatComesBack_IsNoticedByAProbe_AndSpinningResumes()
    {
        SpinPolicy policy = SpinPolicy.Start();
        Run(ref policy, new Random(1), hitRate: 0, periods: 1_000);
        Assert.Equal(0, policy.Credit);

        // Every spin finds work again: within one probe interval the loop spins, and from then on every period.
        Assert.InRange(Run(ref policy, new Random(1), hitRate: 1, periods: SpinPolicy.ProbeEvery), 1, SpinPolicy.ProbeEvery);
        const int periods = 1_000;
        Assert.Equal(periods, Run(ref policy, new Random(1), hitRate: 1, periods));
    }

    [Fact]
    public void SpinShare_FollowsWhetherMostSpinsFindWork()
    {
        // Most spins finding work (a primary fed by several connections: 94-99 %): nearly always spins. Few of
        // them: close to the probe share.
        const int periods = 20_000;
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Double[0.75, 1.0], Gen.Double[0.0, 0.25]).Sample((seed, high, low) =>
        {
            SpinPolicy busy = SpinPolicy.Start();
            int spins = Run(ref busy, new Random(seed), high, periods);
            Assert.True(spins > periods * 0.85, $"hit rate {high:F2}: spun {spins} of {periods}");

            SpinPolicy quiet = SpinPolicy.Start();
            spins = Run(ref quiet, new Random(seed), low, periods);
            Assert.True(spins < periods * 0.25, $"hit rate {low:F2}: spun {spins} of {periods}");
        }, iter: 200);
    }

    [Fact]
    public void Credit_StaysWithinItsBounds_WhateverTheOutcomes()
    {
        Gen.Bool.Array[0, 500].Sample(outcomes =>
        {
            SpinPolicy policy = SpinPolicy.Start();
            foreach (bool hit in outcomes)
            {
                if (hit)
                {
                    policy.Hit();
                }
                else
                {
                    policy.Miss();
                }

                Assert.InRange(policy.Credit, 0, SpinPolicy.MaxCredit);
            }
        });
    }
}
