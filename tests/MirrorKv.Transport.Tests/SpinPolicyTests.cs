using CsCheck;
using MirrorKv.Transport.Epoll;

namespace MirrorKv.Transport.Tests;

public sealed class SpinPolicyTests
{
    // Runs idle periods; a spin ends in work with probability hitRate, else its window runs out.
    private static (int Spins, int Periods) Run(ref SpinPolicy policy, Random random, double hitRate, int periods)
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

        return (spins, periods);
    }

    [Fact]
    public void SpinsThatAlwaysFindWork_KeepSpinning()
    {
        SpinPolicy policy = SpinPolicy.Start();
        (int spins, int periods) = Run(ref policy, new Random(1), hitRate: 1, periods: 10_000);
        Assert.Equal(periods, spins);
        Assert.Equal(SpinPolicy.MaxCredit, policy.Credit);
    }

    [Fact]
    public void SpinsThatNeverFindWork_StopAfterTheCredit_ThenOnlyProbe()
    {
        SpinPolicy policy = SpinPolicy.Start();
        (int first, _) = Run(ref policy, new Random(1), hitRate: 0, periods: SpinPolicy.MaxCredit);
        Assert.Equal(SpinPolicy.MaxCredit, first);
        Assert.Equal(0, policy.Credit);

        (int spins, int periods) = Run(ref policy, new Random(1), hitRate: 0, periods: 8_000);
        Assert.Equal(periods / SpinPolicy.ProbeEvery, spins);
    }

    [Fact]
    public void TrafficThatComesBack_IsNoticedByAProbe_AndSpinningResumes()
    {
        SpinPolicy policy = SpinPolicy.Start();
        Run(ref policy, new Random(1), hitRate: 0, periods: 1_000);
        Assert.Equal(0, policy.Credit);

        // Every spin finds work again: within one probe interval the loop spins, and from then on every period.
        (int spins, _) = Run(ref policy, new Random(1), hitRate: 1, periods: SpinPolicy.ProbeEvery);
        Assert.InRange(spins, 1, SpinPolicy.ProbeEvery);
        (spins, int periods) = Run(ref policy, new Random(1), hitRate: 1, periods: 1_000);
        Assert.Equal(periods, spins);
    }

    [Fact]
    public void SpinShare_FollowsWhetherMostSpinsFindWork()
    {
        // Most spins finding work (a primary fed by several connections: 94-99 %): nearly always spins. Few of
        // them: close to the probe share.
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Double[0.75, 1.0], Gen.Double[0.0, 0.25]).Sample((seed, high, low) =>
        {
            SpinPolicy busy = SpinPolicy.Start();
            (int spins, int periods) = Run(ref busy, new Random(seed), high, 20_000);
            Assert.True(spins > periods * 0.85, $"hit rate {high:F2}: spun {spins} of {periods}");

            SpinPolicy quiet = SpinPolicy.Start();
            (spins, periods) = Run(ref quiet, new Random(seed), low, 20_000);
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
