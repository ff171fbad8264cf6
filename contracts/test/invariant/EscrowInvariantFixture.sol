// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {License} from "../../src/types/LicenseTypes.sol";
import {MockERC20} from "../mocks/MockERC20.sol";
import {Base} from "../utils/Base.t.sol";
import {EscrowHandler, World} from "./handlers/EscrowHandler.sol";
import {EscrowStore} from "./stores/EscrowStore.sol";

/// @notice The world of the invariant campaign: two payment tokens, four licenses held by two
/// creators (a collector can buy them), three payers with their own signing keys, two relayers
/// (the third payer opens a line only for the first at the start) and three training runs per
/// payer.
abstract contract EscrowInvariantFixture is Base {
    uint256 internal constant INITIAL_DEPOSIT = 1e16;
    uint256 internal constant INITIAL_CREDIT = 3e15;

    MockERC20 internal dai;
    EscrowStore internal store;
    EscrowHandler internal handler;

    address internal creatorB = makeAddr("creator-b");
    address internal collector = makeAddr("collector");
    address internal funder = makeAddr("funder");
    address internal feeSink = makeAddr("fee-sink");

    address[3] internal payers;
    uint256[3] internal keys;
    address[2] internal relayers;
    address[3] internal holders;
    uint256[4] internal licenseIds;
    bytes32[3] internal runs;

    function setUp() public virtual override {
        super.setUp();
        dai = new MockERC20("Dai Stablecoin", "DAI", 18);
        vm.prank(owner);
        escrow.setTokenAllowed(address(dai), true);
        vm.label(address(dai), "DAI");

        for (uint256 i; i < 3; ++i) {
            payers[i] = makeAddr(string.concat("payer-", vm.toString(i)));
            keys[i] = uint256(keccak256(abi.encode("payer-key", i)));
            runs[i] = keccak256(abi.encode("run", i));
        }
        relayers = [makeAddr("relayer-0"), makeAddr("relayer-1")];
        holders = [creator, creatorB, collector];

        _mintLicenses();

        store = new EscrowStore();
        store.setCurrentTimestamp(block.timestamp);
        for (uint256 i; i < 3; ++i) {
            vm.prank(payers[i]);
            escrow.registerSigner(vm.addr(keys[i]));
            _initialDeposit(payers[i], usdc);
            _initialDeposit(payers[i], dai);
            // Every payer opens a line for relayer 0, payers 0 and 1 also for relayer 1 (the
            // campaign funds more, and payer 2's line for relayer 1, later).
            _initialLine(payers[i], relayers[0], usdc);
            _initialLine(payers[i], relayers[0], dai);
            if (i < 2) {
                _initialLine(payers[i], relayers[1], usdc);
                _initialLine(payers[i], relayers[1], dai);
            }
        }

        // Two agreements exist before the campaign starts; the handler accepts the others.
        _preAccept(0, 0);
        _preAccept(1, 2);
        // Those acceptances become chargeable a notice period later.
        vm.warp(block.timestamp + NOTICE);

        handler = new EscrowHandler(
            World({
                escrow: escrow,
                nft: nft,
                store: store,
                owner: owner,
                feeSink: feeSink,
                funder: funder,
                claimer: anyone,
                tokens: [usdc, dai],
                payers: payers,
                keys: keys,
                relayers: relayers,
                holders: holders,
                licenseIds: licenseIds,
                runs: runs
            })
        );
        vm.label(address(handler), "EscrowHandler");
        vm.label(address(store), "EscrowStore");
    }

    /// @dev L0: usdc, uncapped. L1: usdc, odd price, capped at 500 units, priced per access. L2:
    /// dai, capped at 2000, priced per inference. L3: dai, tiny price (fees round to zero),
    /// expires in 30 days, exclusive to payer 0. Every unit settles alike: the campaign runs the
    /// same actions over licenses of each.
    function _mintLicenses() private {
        licenseIds[0] = mintLicense(creator, defaultTerms(), keccak256("manifest-0"));

        License.Terms memory t = defaultTerms();
        t.kind = License.Kind.ResearchOnly;
        t.commercialUse = false;
        t.derivatives = License.Derivatives.NotAllowed;
        t.pricePerSample = 3e12 + 7;
        t.maxSamples = 500;
        t.unit = License.Unit.Access;
        t.uri = "ipfs://terms/research-v1";
        licenseIds[1] = mintLicense(creator, t, keccak256("manifest-1"));

        t = defaultTerms();
        t.paymentToken = address(dai);
        t.pricePerSample = 5e12;
        t.maxSamples = 2000;
        t.unit = License.Unit.Inference;
        licenseIds[2] = mintLicense(creatorB, t, keccak256("manifest-2"));

        t = defaultTerms();
        t.kind = License.Kind.Evaluation;
        t.commercialUse = false;
        t.paymentToken = address(dai);
        t.pricePerSample = 11;
        t.expiresAt = uint40(block.timestamp + 30 days);
        t.exclusiveLicensee = payers[0];
        t.uri = "ipfs://terms/eval-v1";
        licenseIds[3] = mintLicense(creatorB, t, keccak256("manifest-3"));
    }

    function _initialDeposit(address who, MockERC20 token) private {
        token.mint(who, INITIAL_DEPOSIT);
        vm.startPrank(who);
        token.approve(address(escrow), INITIAL_DEPOSIT);
        escrow.deposit(address(token), INITIAL_DEPOSIT);
        vm.stopPrank();
        store.recordDeposit(who, address(token), INITIAL_DEPOSIT);
    }

    function _initialLine(address who, address relayer_, MockERC20 token) private {
        vm.prank(who);
        escrow.fundCredit(relayer_, address(token), uint128(INITIAL_CREDIT));
        EscrowStore.Line memory line;
        line.credit = INITIAL_CREDIT;
        store.setLine(keccak256(abi.encode(who, relayer_, address(token))), address(token), line);
    }

    function _preAccept(uint256 p, uint256 l) private {
        (uint64 termsId,) = nft.currentTerms(licenseIds[l]);
        vm.prank(payers[p]);
        escrow.acceptTerms(licenseIds[l], termsId);
        store.recordAcceptance(keccak256(abi.encode(payers[p], licenseIds[l], termsId)));
    }

    function _tokens() internal view returns (MockERC20[2] memory) {
        return [usdc, dai];
    }
}
